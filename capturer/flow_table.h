/* The capturer's open flows: a chained hash table (SipHash with a random key) plus an intrusive doubly linked list
 * ordered by last packet. Every packet moves its flow to the newest end, so the oldest flow is always at the head:
 * idle expiry and "finish the oldest" cost O(1) per flow, never a scan. Two such lists, one for the flows in which
 * the remote side sent data (FLOW_CLIENT_DATA) and one for the rest: when max_flows makes room, a flow without data
 * (a spoofed SYN, a scan probe) goes before a conversation, so a SYN flood does not split the conversations.
 *
 * Each flow keeps its packets as they will appear in its pcap (16-byte record header + captured bytes) in one
 * growable buffer, so writing a finished flow is a single writev. The table counts the bytes those buffers hold
 * (their capacity, i.e. what is really allocated) so a memory limit can be enforced by the caller.
 *
 * Flows and their small buffers come from a pool (flow_pool.h) and go back to it: no allocation per flow or per
 * packet once warm. A table without a pool (tests, the journal's replay) callocs its flows.
 *
 * Removal is O(1) too: a LIST entry knows the pointer that points at it in its chain. Lists are <sys/queue.h>'s.
 *
 * Overhead per flow: struct flow (168 bytes, in a slab: no allocator header) + one hash bucket pointer. */
#ifndef LURKER_CAPTURER_FLOW_TABLE_H
#define LURKER_CAPTURER_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "flow_pool.h"

/* Who talks to whom, seen from the sensor: "remote" is the scanner, "local" the monitored address. ICMP flows key on
 * the request type (replies are folded onto their request) with the ports' place holding type and 0. */
struct flow_key {
    uint8_t remote[16];
    uint8_t local[16];
    uint16_t remote_port;
    uint16_t local_port;
    uint8_t proto;
    uint8_t family;
    uint8_t pad[2]; /* always zero: the key is hashed and compared as bytes */
};

enum flow_internal_flags {
    FLOW_JOURNALED = 1u << 8,   /* its packets go to the crash journal (journal.h) */
    FLOW_IGNORED = 1u << 9,     /* the host's own flow (origin.h): an entry without packets, never written */
    FLOW_CLIENT_DATA = 1u << 10, /* the remote side sent a payload: the flow keeps its own pcap (spool.h) */
};

struct flow {
    union {                       /* a flow is in one of these at a time */
        LIST_ENTRY(flow) hash;    /* in a table: its bucket's chain */
        STAILQ_ENTRY(flow) queue; /* finished: the writer's queue (writer.h) */
        SLIST_ENTRY(flow) free;   /* done with: a flow_chain or a pool's free stack (flow_pool.h) */
    } link;
    TAILQ_ENTRY(flow) order;      /* in a table or a replay: last-packet order, oldest first */
    struct flow_key key;
    uint64_t first_us, last_us;           /* packet timestamps, unix microseconds */
    uint64_t first_mono_us, last_mono_us; /* when the capturer saw them (monotonic clock): drives expiry */
    uint8_t *records;                     /* pcap records: header + bytes, back to back */
    uint32_t records_len, records_cap;    /* < max_flow_bytes + 16 x max_flow_packets < 4 GiB (config.c) */
    uint64_t wire_bytes;                  /* sum of original packet lengths */
    uint32_t packets;
    uint32_t flags;                       /* enum flow_flags (queue.h) | enum flow_internal_flags */
    uint16_t first_code;                  /* ICMP code of the first packet (for the record); 0 otherwise */
    uint32_t journal_seg;                 /* the journal segment holding its first packet */
    uint64_t journal_serial;              /* its id in the crash journal; 0: not journaled */
    struct flow_pool *pool;               /* where it goes back to; NULL: calloc'd, freed */
};

LIST_HEAD(flow_bucket, flow);
TAILQ_HEAD(flow_order, flow);

struct flow_table {
    struct flow_bucket *buckets;
    uint64_t mask;
    struct flow_order quiet, talking; /* without and with client data, each oldest first */
    uint32_t count;
    uint64_t memory;   /* bytes allocated for record buffers of the flows in the table */
    uint8_t hash_key[16];
    void *map_base;    /* large bucket arrays are mmapped (huge pages); NULL when calloc'd */
    size_t map_bytes;
    struct flow_pool *pool; /* NULL: flows are calloc'd */
};

/* Buckets: the power of two >= max_flows. hash_key: 16 random bytes. Returns 0 or -1 (no memory). */
int flow_table_init(struct flow_table *t, uint32_t max_flows, const uint8_t hash_key[16]);
/* Frees every flow still in the table and the table itself. */
void flow_table_destroy(struct flow_table *t);

struct flow *flow_table_lookup(const struct flow_table *t, const struct flow_key *key);
/* A new empty flow for key at the newest end; NULL if out of memory. The key must not be in the table. */
struct flow *flow_table_insert(struct flow_table *t, const struct flow_key *key, uint64_t now_mono_us);
/* Marks activity: the flow moves to the newest end. */
void flow_table_touch(struct flow_table *t, struct flow *f, uint64_t now_mono_us);
static inline struct flow *flow_table_oldest(const struct flow_table *t)
{
    struct flow *q = TAILQ_FIRST(&t->quiet), *c = TAILQ_FIRST(&t->talking);
    return q == NULL ? c : c == NULL || q->last_mono_us <= c->last_mono_us ? q : c;
}
/* What max_flows finishes to make room: the oldest flow without client data, else the oldest. */
static inline struct flow *flow_table_evictable(const struct flow_table *t)
{
    struct flow *q = TAILQ_FIRST(&t->quiet);
    return q ? q : TAILQ_FIRST(&t->talking);
}
/* Sets FLOW_CLIENT_DATA on a flow in the table (and moves it to the newest end of the conversations). While a flow
 * is in a table that bit says which list holds it: set it only through here, never by writing flags. */
void flow_table_mark_client_data(struct flow_table *t, struct flow *f);
/* Takes the flow out of the table (hash, order and memory count); the caller owns it and frees it with
 * flow_table_release once written. */
void flow_table_remove(struct flow_table *t, struct flow *f);
/* Any thread: back to its pool (one atomic operation; a thread releasing many collects them in a flow_chain
 * instead), or freed when it has none. */
void flow_table_release(struct flow *f);

/* Frees the flow's record buffer (it must hold no packets). */
void flow_drop_records(struct flow_table *t, struct flow *f);

/* Appends one pcap record (header + the first caplen bytes of data). The first buffer holds FLOW_RECORDS_KEEP bytes
 * (or the record, if larger): it is the size the pool recycles. Grows the buffer geometrically but never past
 * max_records_bytes (which includes the record headers). Returns 0, or -1 if out of memory (the flow is unchanged). */
int flow_append(struct flow_table *t, struct flow *f, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                uint32_t wire_len, size_t max_records_bytes);

#endif
