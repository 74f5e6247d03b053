/* The flows of one pcap: a hash table keyed by protocol and both endpoints, flows kept in order of first packet.
 * Endpoint 0 is whoever sent the flow's first packet; the client is decided as packets arrive (the sender of the
 * first SYN, else the receiver of the first SYN+ACK, else endpoint 0). Segments point into the pcap buffer, which
 * must outlive the table; they are kept in one pool per table, each direction's as a list in capture order, so that
 * a flow costs no allocation of its own and a table can be reset and reused for the next pcap. */
#ifndef ANALYZER_FLOW_H
#define ANALYZER_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "reassembly.h"

#define FLOW_TABLE_MAX_FLOWS (1u << 20)
#define FLOW_TABLE_MAX_SLOTS (4 * (size_t)FLOW_TABLE_MAX_FLOWS)
#define FLOW_HASH_KEY_WORDS 11 /* one per 32-bit word of a flow's key (IPv6: 2 x 4 + ports + protocol) + 1 */
#define FLOW_PROBE_LIMIT 128  /* slots one lookup visits before the table is rebuilt under a new key (at the
                               * load factor of 1/2 chance gives ~40 in a full table) */

struct timestamp {
    uint64_t sec;
    uint32_t nsec;
};

struct flow_direction {
    size_t first_seg, last_seg; /* data-carrying packets in capture order: pool index + 1, 0 = none */
    size_t nsegs;
    uint64_t packets;
    uint64_t ip_bytes;
    bool syn, synack, fin, rst;
    uint32_t syn_seq;         /* of the first SYN or SYN+ACK this side sent */
    bool acked_peer_synack;   /* sent an ACK for the peer's SYN+ACK sequence number + 1 */
    bool clipped;             /* some packet's payload was cut by the snaplen */
};

struct flow {
    uint8_t family, proto;
    uint8_t addr[2][16];
    uint16_t port[2];
    int client;               /* index of the client endpoint */
    bool client_from_syn;     /* decided by a SYN or SYN+ACK rather than by the first packet */
    struct timestamp first, last;
    uint8_t icmp_type, icmp_code;
    struct flow_direction dir[2]; /* dir[i]: packets sent by endpoint i */
};

struct segment_node {
    struct segment seg;
    size_t next;              /* pool index + 1 of the direction's next segment, 0 = none */
};

struct pcap_flows {
    struct flow *flows;       /* in order of first packet */
    struct segment_node *pool;
    size_t npool, pool_capacity;
    size_t nflows, capacity;
    uint32_t *slots;          /* open addressing: index+1 into flows, 0 = empty */
    size_t nslots;
    uint64_t hash_key[FLOW_HASH_KEY_WORDS]; /* random, new whenever the slots are rebuilt */
    size_t longest_probe;     /* slots visited by the longest lookup so far */
    uint64_t dropped_flows;   /* beyond FLOW_TABLE_MAX_FLOWS */
    bool out_of_memory;
};

void pcap_flows_init(struct pcap_flows *t);
void pcap_flows_free(struct pcap_flows *t);

/* Empties the table for the next pcap, keeping its memory (tables that grew large are freed instead). */
void pcap_flows_reset(struct pcap_flows *t);

/* Copies d's segments, in capture order, into out (room for d->nsegs). */
void pcap_flows_segments(const struct pcap_flows *t, const struct flow_direction *d, struct segment *out);

/* Adds one decoded packet captured at ts. Returns 0, or -1 if it could not be stored (counted in the table). */
int pcap_flows_add(struct pcap_flows *t, const struct decoded_packet *p, struct timestamp ts);

#endif
