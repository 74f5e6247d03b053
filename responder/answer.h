/* What the responder does with one captured segment: a SYN is answered with (at most) one SYN+ACK, shaped by the
 * persona, with the SYN-cookie ISN (no per-connection state); every later segment of the client (ACK set) goes to
 * the ACK path (ack_path.h), which acknowledges data and FINs and sends banners. */
#ifndef LURKER_RESPONDER_ANSWER_H
#define LURKER_RESPONDER_ANSWER_H

#include <stdint.h>

#include "ack_path.h"
#include "config.h"
#include "persona.h"
#include "rate_limit.h"
#include "raw_sender.h"
#include "syncookie.h"

/* Totals since start; main publishes them (and the sender's totals by packet kind) to the shared counters. */
struct answer_counts {
    uint64_t syn_seen, rate_limited_global, rate_limited_source, port_excluded, malformed;
    uint64_t not_ours;
};

struct responder {
    const struct lurker_config *cfg;
    struct persona_host host;
    uint8_t key[SYNCOOKIE_KEY_BYTES];
    uint64_t ts_origin_ms;             /* the persona's "uptime" at monotonic time 0 */
    uint16_t ip_id;                    /* next IP ID for personas that increment it */
    uint8_t banner_of_port[65536];     /* 0: none, else index + 1 into cfg->responder.banners */
    struct rate_limiter limiter;
    struct raw_sender *sender;
    struct answer_counts counts;
    struct ack_path acks;
};

/* Sets up everything but the sender (already open). Returns 0, or -1 if out of memory. */
int responder_init(struct responder *r, const struct lurker_config *cfg, const struct persona_host *host,
                   const uint8_t key[SYNCOOKIE_KEY_BYTES], struct raw_sender *sender, uint64_t now_ns);
void responder_free(struct responder *r);

/* Shared by the SYN path and the ACK path. */
uint32_t responder_ts_clock(const struct responder *r, uint64_t now_ns);
/* Builds a reply to segment s (from the monitored address back to the client) into the sender's batch. */
void responder_send(struct responder *r, const struct decoded_packet *s, const struct tcp_shape *shape, uint32_t seq,
                    uint32_t ack, uint8_t flags, const uint8_t *payload, size_t payload_len, enum packet_kind kind);

/* Handles one captured frame, captured at ts_us (unix us, the capture timestamp). now_ns is CLOCK_MONOTONIC, coarse
 * the SYN-cookie clock (syncookie_coarse_now()). */
void responder_handle(struct responder *r, const uint8_t *frame, size_t caplen, int linktype, uint64_t ts_us,
                      uint64_t now_ns, uint32_t coarse);

#endif
