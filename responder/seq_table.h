/* The next byte the responder expects from each client whose data it acknowledges, so that an ACK never covers
 * bytes that did not arrive: a segment past a hole (a lost or reordered one) gets a duplicate ACK of what is
 * contiguous, as from a real stack, and the client retransmits the hole.
 *
 * Fixed size, allocated once: 4-way set-associative, the set chosen by a keyed SipHash-1-3 of the 4-tuple (the
 * tuple is attacker-chosen; a keyed hash keeps anyone from aiming collisions at one set). A new flow takes an empty
 * way of its set, else the least recently used one (an eviction, counted by the caller). Entries are only created
 * for segments whose SYN cookie is valid, so their number is bounded by the SYN+ACKs the rate limits let out.
 *
 * Sequence numbers are compared modulo 2^32 (RFC 793 / RFC 1982 arithmetic), so wrap-around is ordinary. */
#ifndef LURKER_RESPONDER_SEQ_TABLE_H
#define LURKER_RESPONDER_SEQ_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQ_TABLE_WAYS 4

/* The 4-tuple as the client's segment carries it (src = client, dst = monitored address; IPv4 as mapped IPv6). */
struct seq_flow {
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
};

struct seq_entry {
    struct seq_flow flow;
    uint32_t isn;              /* our SYN+ACK's sequence number (the SYN cookie) for this flow */
    uint32_t next;             /* the next client sequence number expected: everything before it arrived */
    uint64_t last_used;        /* the table's use clock at the last lookup; 0: empty */
};

struct seq_table {
    uint32_t nsets;            /* power of two */
    struct seq_entry *entries; /* nsets * SEQ_TABLE_WAYS */
    uint64_t clock;            /* incremented on every use: least recently used = smallest last_used */
    uint8_t hash_key[16];
};

/* `entries` is rounded down to a power-of-two number of sets of SEQ_TABLE_WAYS (at least one set). Returns 0, or
 * -1 if out of memory. */
int seq_table_init(struct seq_table *t, uint32_t entries, const uint8_t hash_key[16]);
void seq_table_free(struct seq_table *t);

/* The entry of flow f, marked as just used; NULL when the table does not hold it. */
struct seq_entry *seq_table_find(struct seq_table *t, const struct seq_flow *f);

/* An entry for flow f (which the table must not hold), taking an empty way or the least recently used one of its
 * set; *evicted says whether a live flow had to go. The caller sets isn and next. */
struct seq_entry *seq_table_add(struct seq_table *t, const struct seq_flow *f, bool *evicted);

/* Frees the entry (after the client's FIN or RST). */
void seq_table_forget(struct seq_table *t, struct seq_entry *e);

/* Where a client segment covering [seq, seq + len) (len counts a FIN as one) falls against *next:
 *   SEQ_IN_ORDER       it starts at or before *next and either brings new bytes (*next moves to its end) or is
 *                      empty and starts exactly at *next;
 *   SEQ_OLD            everything in it arrived before (a retransmission);
 *   SEQ_AHEAD          it starts past *next: the bytes in between are missing (*next does not move);
 *   SEQ_OUT_OF_WINDOW  it is more than `window` away either way: not this incarnation of the flow (*next does not
 *                      move; the caller decides). */
enum seq_verdict { SEQ_IN_ORDER, SEQ_OLD, SEQ_AHEAD, SEQ_OUT_OF_WINDOW };
enum seq_verdict seq_accept(uint32_t *next, uint32_t seq, uint32_t len, uint32_t window);

#endif
