/* The shared-memory segment: one per lurker instance (config `shm_name`, default "/lurker").
 *
 * Layout: header (magic, layout version, total size), one slot per process (pid, start and heartbeat times), the
 * responder's SYN-cookie key, 64-bit atomic counters, then the finished-flow queue (queue.h). Whoever comes first
 * creates and initialises it; the others wait for the magic to appear and check version and size. A segment left by
 * a dead run is reused as it is: its queue is consistent at every instant (see queue.h), and slots whose pid is gone
 * read as dead. A segment of another layout version is refused with a message that says how to clear it.
 *
 * Trust: the segment is shared with other processes and lives in world-writable /dev/shm, so nothing in it is
 * trusted beyond what is checked. Only a segment owned by root or by us, with no access for others, is attached;
 * its geometry is validated and copied into process memory once; every retry loop on its contents is bounded. */
#ifndef LURKER_SHM_H
#define LURKER_SHM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "counters.h"
#include "queue.h"

#define SHM_MAGIC 0x4c55524b45523031ULL /* "LURKER01" */
#define SHM_LAYOUT_VERSION 2u /* 2: capturer counters added before the shipper block */
#define SHM_COUNTER_SLOTS 128 /* >= CNT_COUNT; room to add counters without a new layout */
#define SHM_KEY_BYTES 16

struct shm_process_slot {
    _Atomic int32_t pid;              /* 0: never started */
    _Atomic uint64_t started_ns;      /* CLOCK_REALTIME at registration */
    _Atomic uint64_t heartbeat_ns;    /* CLOCK_MONOTONIC of the last heartbeat (same clock for every process) */
};

struct shm_header {
    _Atomic uint64_t magic;           /* written last by the creator */
    uint32_t layout_version;
    uint32_t header_size;
    uint64_t total_size;
    uint64_t created_ns;              /* CLOCK_REALTIME */
    struct shm_process_slot procs[PROC_COUNT];
    _Atomic uint64_t key_generation;  /* bumped each time the responder sets a new key; 0 = no key yet */
    uint8_t synack_key[SHM_KEY_BYTES];
    _Atomic uint64_t key_created_ns;  /* CLOCK_REALTIME */
    _Atomic uint64_t counters[SHM_COUNTER_SLOTS];
    /* the queue follows at offset header_size */
};

struct shm_segment {
    struct shm_header *hdr;
    struct lurker_queue *queue;       /* &queue_handle once attached */
    struct lurker_queue queue_handle; /* geometry copied and checked at attach (queue.h) */
    size_t size;
    char name[64];
};

/* Opens the segment NAME, creating it with QUEUE_SLOTS queue slots if absent. Error text in err. */
int shm_attach(const char *name, uint32_t queue_slots, struct shm_segment *seg, char *err, size_t errlen);
/* Opens an existing segment without creating it: read-write (test helpers), or read-only (lurker-ctl). */
int shm_attach_existing(const char *name, struct shm_segment *seg, char *err, size_t errlen);
int shm_attach_readonly(const char *name, struct shm_segment *seg, char *err, size_t errlen);
void shm_detach(struct shm_segment *seg);
int shm_remove(const char *name); /* shm_unlink; 0 or -1 with errno */

/* A slot whose heartbeat stopped this long ago is free even if its pid exists: a made-up pid in the segment must
 * not lock a process out for ever (HEALTH_STALE_AFTER_S calls a process hung far sooner). */
#define SHM_SLOT_ABANDONED_S 60
#define SHM_KEY_READ_TRIES 1000

/* Registers the calling process in its slot. Refuses (-1, message) when a live process other than us holds it. */
int shm_register(struct shm_segment *seg, enum lurker_process p, char *err, size_t errlen);
void shm_heartbeat(struct shm_segment *seg, enum lurker_process p);
void shm_unregister(struct shm_segment *seg, enum lurker_process p);
/* Whether the slot's pid is alive: it exists and is not younger than its registration (a reused pid is not). */
bool shm_process_alive(const struct shm_segment *seg, enum lurker_process p);
/* Alive with a heartbeat younger than SHM_SLOT_ABANDONED_S: what keeps another process out of the slot. */
bool shm_process_holds_slot(const struct shm_segment *seg, enum lurker_process p);

static inline void counter_add(struct shm_segment *seg, enum lurker_counter c, uint64_t n)
{
    atomic_fetch_add_explicit(&seg->hdr->counters[c], n, memory_order_relaxed);
}
static inline void counter_set(struct shm_segment *seg, enum lurker_counter c, uint64_t v)
{
    atomic_store_explicit(&seg->hdr->counters[c], v, memory_order_relaxed);
}
static inline uint64_t counter_get(const struct shm_segment *seg, enum lurker_counter c)
{
    return atomic_load_explicit(&seg->hdr->counters[c], memory_order_relaxed);
}

/* Sets a fresh random SYN-cookie key (responder, at start). */
int shm_new_key(struct shm_segment *seg);
/* Copies the current key into KEY and its generation into *GENERATION (0: none set yet, KEY untouched). -1 with a
 * message when the key stays mid-update for SHM_KEY_READ_TRIES reads (KEY untouched). */
int shm_get_key(const struct shm_segment *seg, uint8_t key[SHM_KEY_BYTES], uint64_t *generation, char *err,
                size_t errlen);

uint64_t monotonic_ns(void);
uint64_t realtime_ns(void);

#endif
