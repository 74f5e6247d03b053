/* The finished-flow queue: a bounded single-producer (capturer) / single-consumer (shipper) ring in shared memory.
 *
 * Why lock-free SPSC and not a mutex: a process killed while holding a process-shared mutex leaves it locked (robust
 * mutexes recover the lock but not the half-updated ring). Here there is no lock to leave behind. The producer writes
 * a slot, then publishes it with one release-store of `tail`; the consumer reads the slot at `head`, then retires it
 * with one release-store of `head`. A kill -9 at any instant leaves either the old or the new index, never a torn
 * record: a producer killed mid-write simply never published the slot; a consumer killed before retiring sees the
 * same record again (at-least-once, and every record carries a sequence number so a consumer can skip what it has
 * already handled). One producer and one consumer are guaranteed by the process slots in the segment header.
 * Waiting uses a futex on `tail` (FUTEX_WAIT on shared memory, not private), with a timeout so a consumer also wakes
 * for its own timers.
 *
 * A full queue is reported to the producer (QUEUE_FULL), never overwritten. The capturer counts it; the flow stays
 * in the spool, where the shipper's rescan finds it. */
#ifndef LURKER_QUEUE_H
#define LURKER_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowid.h"

#define QUEUE_NAME_MAX SPOOL_NAME_MAX
/* The record's layout: raised whenever struct queue_record changes, so a shipper never reads a capturer of another
 * build field by field. */
#define QUEUE_RECORD_VERSION 2u

enum flow_flags {
    FLOW_TRUNCATED = 1u << 1,   /* cut at a packet/byte cap */
    FLOW_EARLY = 1u << 2,       /* finished before it went idle (a bound, or shutdown) */
};

/* What crosses from capturer to shipper: a finished flow's (or a batch's) spool file and its identity. The consumer
 * must treat it as untrusted: check queue_record_valid(). */
struct queue_record {
    uint64_t seq;                  /* assigned by queue_push, strictly increasing */
    uint32_t version;              /* QUEUE_RECORD_VERSION, set by queue_push */
    uint32_t flags;                /* enum flow_flags */
    char name[QUEUE_NAME_MAX];     /* spool file name, no directory part, NUL-terminated: spool_name_format(&key) */
    struct spool_name key;         /* what the name says, as the capturer knew it */
    uint64_t last_us;              /* unix time of the last packet, microseconds */
    uint64_t packets, bytes;
    uint64_t file_size;
};

/* The ring as it lies in shared memory. Everything in it may have been written by someone else: the consumer and
 * producer read `slots` once at attach (queue_attach) and use their own copy from then on. */
struct queue_shared {
    uint32_t slots;                /* power of two, as created; read only at attach */
    uint32_t pad;
    _Alignas(64) _Atomic uint64_t head; /* next seq to consume */
    _Alignas(64) _Atomic uint64_t tail; /* next seq to produce; also the futex word (low 32 bits) */
    _Alignas(64) _Atomic uint64_t pushed_total;
    _Atomic uint64_t full_total;
    _Alignas(64) struct queue_record ring[];
};

/* A process's handle on a ring: the geometry lives in process memory, validated once, so a value rewritten in the
 * segment later can neither move a write outside the ring nor make an index computation crash. */
struct lurker_queue {
    struct queue_shared *shared;
    uint32_t slots;                /* power of two, checked at attach */
};

enum queue_result { QUEUE_OK = 0, QUEUE_FULL = 1, QUEUE_EMPTY = 2 };

#define QUEUE_MAX_SLOTS (1u << 24) /* far above any sane queue_slots; keeps queue_bytes() small and exact */

size_t queue_bytes(uint32_t slots);
/* Initialises a fresh ring of SLOTS (a power of two, <= QUEUE_MAX_SLOTS) at MEMORY (queue_bytes(slots) bytes). */
void queue_init(struct lurker_queue *q, void *memory, uint32_t slots);
/* Takes a handle on an existing ring of BYTES bytes at MEMORY: 0, or -1 when its slot count is not a power of two
 * up to QUEUE_MAX_SLOTS or does not fill exactly those bytes. */
int queue_attach(struct lurker_queue *q, void *memory, size_t bytes);

/* Producer. Fills rec->seq and rec->version. */
enum queue_result queue_push(struct lurker_queue *q, struct queue_record *rec);

/* Consumer: copy the record at the head without retiring it. */
enum queue_result queue_peek(struct lurker_queue *q, struct queue_record *out);
/* Consumer: retire the record with sequence SEQ (no-op if the head has moved past it). */
void queue_commit(struct lurker_queue *q, uint64_t seq);
/* Consumer: wait until the queue is non-empty or timeout_ms passes. Returns true if non-empty. */
bool queue_wait(struct lurker_queue *q, int timeout_ms);

uint64_t queue_depth(const struct lurker_queue *q);

/* The record is of this build's version, its key is a batch's or a TCP, UDP or ICMP flow's, and its name is exactly
 * what the key formats to (so it is NUL-terminated, has no '/' and does not start with '.'). */
bool queue_record_valid(const struct queue_record *rec);

#endif
