/* Replay of one dead run's journal: its segments' records, in order, rebuilt into flows.
 *
 * Flows are grouped by their journal serial, not by tuple: a tuple can have several flows in one run (a flow cut at
 * max_flow_packets and continued, one that went idle and came back), and only the serial says where the dead
 * process drew the line. The first packet of a serial gives the flow's key through the same decode and key rules as
 * capture (tracker_flow_key), so the flow gets the file name the dead process would have given it. A FLOW_DONE
 * forgets its flow (already durable or accounted for); what is left at the end was open, or finished but not yet
 * written, when the process died.
 *
 * Memory: the journal is not trusted to respect any bound (a damaged or planted one may hold one serial across
 * thousands of records), so replay applies live capture's own: a flow that reaches max_flow_packets or
 * max_flow_bytes is handed out as it would have been cut (its later packets form a second flow), and over
 * memory_limit the least recently fed flows are handed out early, the one being fed included if it alone is over. The journal is untrusted input: every record is checked
 * (journal_format.h), a bad one ends the segment, and nothing here can crash on any bytes. No I/O. */
#ifndef LURKER_CAPTURER_REPLAY_H
#define LURKER_CAPTURER_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_table.h"
#include "tracker.h"

struct replay_stats {
    uint64_t records;           /* good records read */
    uint64_t segments;
    uint64_t bad_tails;         /* segments that ended in a bad or cut record */
    uint64_t flows_done;        /* flows a FLOW_DONE record retired */
    uint64_t flows_out;         /* flows handed to the sink */
    uint64_t packets_skipped;   /* a flow's first packet that is not IP (cannot be keyed), or no memory */
    uint64_t flows_cut;         /* handed out at max_flow_packets/max_flow_bytes or over memory_limit */
    uint64_t memory_peak;       /* most bytes of flow records held at once */
};

/* Live capture's bounds (capturer config), applied to what a journal holds. */
struct replay_limits {
    uint64_t memory_limit;
    uint32_t max_flow_packets;
    uint64_t max_flow_bytes;
};

struct replay_slot {
    uint64_t serial;            /* 0: empty */
    struct flow *flow;
};

struct replay {
    struct tracker keys;        /* only local prefixes and dlt are used: tracker_flow_key */
    struct flow_table acct;     /* no buckets: flow_append's memory accounting */
    struct replay_slot *slots;
    size_t cap, used;
    struct flow_order order;    /* least recently fed first, through the flows' own order links (in no table) */
    struct replay_limits limits;
    flow_sink_fn sink;
    void *sink_arg;
    /* Whether a FLOW_DONE naming `name` retires its flow; NULL: always. A batch's members are reported done just
     * before the batch is renamed into place (spool_batch.h), so a FLOW_DONE naming a batch whose .tmp is still
     * there means the rename never happened. */
    bool (*done_counts)(void *arg, const uint8_t *name, size_t len);
    void *done_arg;
    struct replay_stats stats;
};

/* dlt: the run's, from its segment header. Returns 0, or -1 (no memory). */
int replay_init(struct replay *r, const struct prefix *local, size_t nlocal, int dlt,
                const struct replay_limits *limits, flow_sink_fn sink, void *sink_arg);
/* The records of one segment (the bytes after its header), in the run's segment order. */
void replay_records(struct replay *r, const uint8_t *buf, size_t len);
/* Hands every flow still held to the sink, marked early and truncated (recovered after a crash). */
void replay_finish(struct replay *r);
/* Frees what is left (after replay_finish: nothing but the table). */
void replay_destroy(struct replay *r);

#endif
