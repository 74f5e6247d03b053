/* Operating-system personas: how a given OS answers a SYN's offered options. See responder/PERSONAS.md.
 * Pure functions: the caller supplies the host's MSS (from the interface MTU), Linux's window-scale (from the host's
 * tcp_rmem, as the kernel computes it) and the current timestamp clock value. */
#ifndef LURKER_RESPONDER_PERSONA_H
#define LURKER_RESPONDER_PERSONA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"

#define TCP_OPTIONS_MAX 40

struct persona_host {
    uint16_t mss_v4, mss_v6;   /* interface MTU - 40 / - 60 */
    uint8_t linux_wscale;      /* clamp(ilog2(max(tcp_rmem[2], rmem_max)) - 15, 0, 14) */
};

/* The IP and TCP header values of one answer. */
struct tcp_shape {
    uint8_t ttl;               /* IPv4 TTL or IPv6 hop limit */
    bool df;                   /* IPv4 only */
    bool ipid_increments;      /* false: IP ID 0 (DF-set packets, RFC 6864); true: a global incrementing counter */
    uint16_t window;           /* raw header value */
    uint8_t options[TCP_OPTIONS_MAX];
    size_t options_len;        /* a multiple of 4 */
};

/* The SYN+ACK to a SYN that offered `offer`. ts_now is the persona's timestamp clock (TSval). */
void persona_synack(enum persona p, const struct persona_host *host, bool ipv6, const struct tcp_options *offer,
                    uint32_t ts_now, struct tcp_shape *out);

/* A segment after the handshake (banner, ACK of client data). `client` holds the options of the client's segment
 * (timestamps are echoed when it carries them); syn_had_wscale says whether the client's window scaling is in use,
 * which we cannot know statelessly: an ACK carrying timestamps implies a modern stack that also offered it. */
void persona_established(enum persona p, const struct persona_host *host, bool ipv6, const struct tcp_options *client,
                         uint32_t ts_now, struct tcp_shape *out);

#endif
