/* What the responder does with a client's segments after the handshake (ACK set, SYN clear), whichever engine
 * answered the SYN: it acknowledges the client's data and FIN so a client's payload is acknowledged once and never
 * retransmitted, sends the banner on banner ports, and forgets the flow at the client's FIN or RST.
 *
 * Every decision starts from the SYN cookie (or from this table's copy of it): a segment whose acknowledgement number
 * is not our ISN + 1 (+ what we sent since: banner, FIN) is not a connection we answered and gets nothing. At most
 * one packet goes out per packet in, under the SYN path's token buckets. The next byte expected from each client is
 * kept in a bounded table (seq_table.h), so an ACK never acknowledges bytes that did not arrive. Nor bytes the
 * capturer has not recorded: while it is not running nothing is acknowledged (the client retransmits), and an ACK
 * for a segment it has not journaled yet waits in a bounded queue (recorder_watch.h). The wire behaviour is described
 * in responder/PERSONAS.md. */
#ifndef LURKER_RESPONDER_ACK_PATH_H
#define LURKER_RESPONDER_ACK_PATH_H

#include <stdint.h>

#include "ephemeral_ports.h"
#include "seq_table.h"
#include "decode.h"

#define ACK_PATH_FLOWS 65536          /* seq_table entries (about 3.5 MiB) */
#define ACK_PATH_WINDOW (1u << 20)    /* a segment further than this from what we expect is not this flow's */
#define ACK_PATH_WAITING 4096         /* answers waiting for the capturer to record their segment */
#define ACK_PATH_WAIT_MAX_NS 1000000000ULL /* a capturer that takes longer than this has stalled: give up */

/* Whether the capturer has recorded a segment captured at a given time (unix us). */
enum recording { RECORDING_DONE, RECORDING_WAIT, RECORDING_DOWN };

/* One answer built but not sent until its segment is recorded. */
struct waiting_answer {
    struct decoded_packet seg;         /* the client's segment (payload pointer cleared) */
    uint32_t seq, ack;
    uint8_t flags, banner;             /* banner: index + 1 into cfg->responder.banners, or 0 */
    uint8_t kind;                      /* enum packet_kind */
    uint64_t ts_us, queued_ns;
};

struct ack_path_counts {
    uint64_t out_of_order, duplicate, evictions, resyncs, rate_limited;
    uint64_t cookie_invalid, cookie_invalid_ephemeral, held_not_recording;
};

struct ack_path {
    struct seq_table flows;
    struct port_range ephemeral;       /* the host's own connections' local ports (ip_local_port_range) */
    enum recording (*recording)(void *arg, uint64_t ts_us); /* recorder_watch.h; NULL: always recorded */
    void *recording_arg;
    struct waiting_answer *waiting;    /* ring of ACK_PATH_WAITING */
    uint32_t waiting_head, waiting_count;
    struct ack_path_counts counts;
};

struct responder;

/* hash_key seeds the table's hash. Returns 0, or -1 if out of memory. */
int ack_path_init(struct ack_path *a, const uint8_t hash_key[16]);
void ack_path_free(struct ack_path *a);

/* Handles one segment with ACK set and SYN clear to a monitored address, captured at ts_us (unix us). */
void ack_path_handle(struct responder *r, const struct decoded_packet *s, uint64_t ts_us, uint64_t now_ns,
                     uint32_t coarse);

/* Sends the waiting answers whose segments the capturer has recorded since, drops those it never will (the client
 * retransmits; its flow's entry is forgotten, so nothing is acknowledged past them). Returns how many still wait. */
uint32_t ack_path_release(struct responder *r, uint64_t now_ns);

#endif
