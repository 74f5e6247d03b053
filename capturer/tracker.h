/* Packets into flows (only those an outsider started: origin.h), and the rules that finish a flow: idle for flow_timeout, older than max_flow_age (checked at
 * its next packet; an idle one expires anyway), at max_flow_packets or max_flow_bytes (cut, marked truncated), the
 * oldest flows early at max_flows or memory_limit, and every flow at shutdown. A finished flow goes to the sink,
 * which owns it from then on. Pure bookkeeping: no I/O, so the unit tests drive it with synthetic packets. */
#ifndef LURKER_CAPTURER_TRACKER_H
#define LURKER_CAPTURER_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "capture.h" /* CAPTURE_TIMEOUT_MS only */
#include "config.h"
#include "decode.h"
#include "ephemeral_ports.h"
#include "flow_table.h"

/* Packets reach the tracker up to CAPTURE_TIMEOUT_MS after they arrived (block capture). A flow is finished only
 * after flow_timeout plus this slack without packets, so its next packet, on time but still in an unreturned ring
 * block, is not turned into a flow of its own (a client's FIN exactly at flow_timeout). */
#define FLOW_EXPIRY_SLACK_US (2u * CAPTURE_TIMEOUT_MS * 1000u)

enum finish_reason {
    FINISH_IDLE,
    FINISH_AGED,
    FINISH_CUT_PACKETS,
    FINISH_CUT_BYTES,
    FINISH_MAX_FLOWS,
    FINISH_MEMORY,
    FINISH_SHUTDOWN,
};

struct tracker_stats {
    uint64_t packets, bytes; /* bytes: captured */
    uint64_t malformed;      /* not IP (no flow) or transport header cut (kept in a flow with ports 0) */
    uint64_t packets_nomem;  /* packets lost because malloc failed */
    uint64_t flows_started;
    uint64_t flows_ignored_local;   /* the host's own flows, and ICMP errors/neighbour discovery about its packets */
    uint64_t packets_ignored_local; /* their packets */
    uint64_t finished[FINISH_SHUTDOWN + 1];
};

typedef void (*flow_sink_fn)(void *arg, struct flow *f);

struct tracker {
    struct flow_pool pool;   /* every flow of both tables comes from it (tr must not move after tracker_init) */
    struct flow_table table;
    const struct prefix *local;
    size_t nlocal;
    int dlt;
    uint64_t timeout_us, max_age_us;
    uint32_t max_flows, max_packets;
    uint64_t max_bytes, memory_limit;
    struct tracker_stats stats;
    /* Entries that are not flows being recorded, in a table of their own (so they never push a recorded flow out):
     * the host's flows (FLOW_IGNORED), and the marks a flow cut at a cap or at max_flow_age leaves so that its next
     * packet continues it whatever its direction. No packets; they expire after flow_timeout like flows; at
     * max_flows entries the least recently used one goes. */
    struct flow_table aside;
    struct port_range ephemeral;    /* the host's ephemeral ports (origin.h); tracker_init sets Linux's default */
    /* The responder's SYN-cookie key (shared memory), or NULL: tells an outsider's ACK to an ephemeral port from
     * the host's own traffic (origin.h). */
    const uint8_t *cookie_key;
    flow_sink_fn sink;
    void *sink_arg;
    struct journal *journal; /* NULL: none (tests); else every packet a flow keeps is journaled too */
};

int tracker_init(struct tracker *tr, const struct capturer_config *cc, const struct prefix *local, size_t nlocal,
                 int dlt, const uint8_t hash_key[16], flow_sink_fn sink, void *sink_arg);
void tracker_destroy(struct tracker *tr);

/* True if the address (family 4 or 6, 16 bytes as decoded) is one of the monitored prefixes: the sensor's side. */
bool tracker_is_local(const struct tracker *tr, uint8_t family, const uint8_t bytes[16]);

/* One captured packet: its pcap timestamp (unix microseconds), bytes, captured and original length, and the
 * monotonic time it was processed. */
void tracker_packet(struct tracker *tr, uint64_t ts_us, const uint8_t *data, uint32_t caplen, uint32_t wire_len,
                    uint64_t now_mono_us);
/* Finishes every flow idle for flow_timeout or longer. */
void tracker_expire(struct tracker *tr, uint64_t now_mono_us);
/* Monotonic time at which the next flow goes idle, or UINT64_MAX when no flow is open. */
uint64_t tracker_next_expiry(const struct tracker *tr);
/* Shutdown: finishes every open flow. */
void tracker_finish_all(struct tracker *tr);

/* A flow a killed capturer left open (recover.h), taken back as if this process had captured it: its packets are
 * copied into a new flow of the table (and journaled again by this run, so a second kill loses nothing), its idle
 * and age clocks carried over from the wall clock, under the same bounds as capture (max_flows, memory_limit,
 * max_flow_packets/max_flow_bytes finish flows through the sink, counted). Its next packet continues it; its idle
 * timeout finishes it as one flow. src stays the caller's. Not counted in flows_started: the dead run counted it. */
enum tracker_adopt_result {
    TRACKER_ADOPTED,
    TRACKER_ADOPTED_AGAIN, /* adopted in place of an earlier run's shorter copy of the same flow */
    TRACKER_ADOPT_HELD,    /* the table already holds this flow (a later run journaled it again), as much of it */
    TRACKER_ADOPT_IDLE,    /* its idle timeout passed while no capturer ran: the caller writes it now */
    TRACKER_ADOPT_REFUSED, /* no memory, or this run could not journal all of it: the caller writes it now */
};
enum tracker_adopt_result tracker_adopt(struct tracker *tr, const struct flow *src, uint64_t now_mono_us,
                                        uint64_t now_real_us);

/* Builds the flow key of a decoded packet; *inbound tells whether it came from the remote side. Exposed for tests
 * and for the journal's replay, which must rebuild flows exactly as capture built them. */
struct decoded_packet;
struct journal;
void tracker_flow_key(const struct tracker *tr, const struct decoded_packet *p, struct flow_key *key, int *inbound);
/* Marks f FLOW_CLIENT_DATA when the remote side sent a payload (or a packet we cannot read as header-only: a
 * fragment, a cut header, another protocol). Flows without it are the ones a batch may hold (spool.h). */
void tracker_track_client_data(struct flow *f, const struct decoded_packet *p, enum decode_result r, int inbound);

#endif
