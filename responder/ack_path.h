/* What the responder does with a client's segments after the handshake (ACK set, SYN clear), whichever engine
 * answered the SYN: it acknowledges the client's data and FIN so a client's payload is acknowledged once and never
 * retransmitted, sends the banner on banner ports, and forgets the flow at the client's FIN or RST.
 *
 * Every decision starts from the SYN cookie (or from this table's copy of it): a segment whose acknowledgement number
 * is not our ISN + 1 (+ what we sent since: banner, FIN) is not a connection we answered and gets nothing. At most
 * one packet goes out per packet in, under the SYN path's token buckets. The next byte expected from each client is
 * kept in a bounded table (seq_table.h), so an ACK never acknowledges bytes that did not arrive. The wire behaviour
 * is described in responder/PERSONAS.md. */
#ifndef LURKER_RESPONDER_ACK_PATH_H
#define LURKER_RESPONDER_ACK_PATH_H

#include <stdint.h>

#include "ephemeral_ports.h"
#include "seq_table.h"
#include "tcp_segment.h"

#define ACK_PATH_FLOWS 65536          /* seq_table entries (about 3.5 MiB) */
#define ACK_PATH_WINDOW (1u << 20)    /* a segment further than this from what we expect is not this flow's */

struct ack_path_counts {
    uint64_t out_of_order, duplicate, evictions, resyncs, rate_limited;
    uint64_t cookie_invalid, cookie_invalid_ephemeral;
};

struct ack_path {
    struct seq_table flows;
    struct port_range ephemeral;       /* the host's own connections' local ports (ip_local_port_range) */
    struct ack_path_counts counts;
};

struct responder;

/* hash_key seeds the table's hash. Returns 0, or -1 if out of memory. */
int ack_path_init(struct ack_path *a, const uint8_t hash_key[16]);
void ack_path_free(struct ack_path *a);

/* Handles one segment with ACK set and SYN clear to a monitored address. */
void ack_path_handle(struct responder *r, const struct tcp_segment *s, uint64_t now_ns, uint32_t coarse);

#endif
