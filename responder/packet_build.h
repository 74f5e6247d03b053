/* Building one IPv4 or IPv6 TCP packet (header + options + payload) with its TCP checksum computed here: a raw IP
 * socket fills in only the IPv4 header checksum. */
#ifndef LURKER_RESPONDER_PACKET_BUILD_H
#define LURKER_RESPONDER_PACKET_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "persona.h"

#define PACKET_MAX (40 + 60 + 1024)

struct tcp_reply {
    const struct ip_addr *src, *dst;   /* src = monitored address, dst = client */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t ip_id;                    /* used when shape->ipid_increments */
    uint32_t flow_label;               /* IPv6 only, 20 bits */
    const struct tcp_shape *shape;
    const uint8_t *payload;
    size_t payload_len;
};

/* Writes the packet into out (cap bytes). Returns its length, or 0 if it does not fit. */
size_t packet_build(const struct tcp_reply *r, uint8_t *out, size_t cap);

/* The Internet checksum of the TCP segment (pseudo-header included) as stored in the header. */
uint16_t tcp_checksum(const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment, size_t len);

#endif
