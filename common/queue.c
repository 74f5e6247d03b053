#include "queue.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

size_t queue_bytes(uint32_t slots)
{
    return sizeof(struct queue_shared) + (size_t)slots * sizeof(struct queue_record);
}

static bool valid_slots(uint32_t slots)
{
    return slots != 0 && slots <= QUEUE_MAX_SLOTS && (slots & (slots - 1)) == 0;
}

void queue_init(struct lurker_queue *q, void *memory, uint32_t slots)
{
    struct queue_shared *s = memory;
    memset(s, 0, queue_bytes(slots));
    s->slots = slots;
    atomic_init(&s->head, 0);
    atomic_init(&s->tail, 0);
    q->shared = s;
    q->slots = slots;
}

int queue_attach(struct lurker_queue *q, void *memory, size_t bytes)
{
    struct queue_shared *s = memory;
    q->shared = NULL;
    q->slots = 0;
    if (bytes < sizeof *s)
        return -1;
    uint32_t slots = *(volatile uint32_t *)&s->slots; /* read exactly once */
    if (!valid_slots(slots) || queue_bytes(slots) != bytes)
        return -1;
    q->shared = s;
    q->slots = slots;
    return 0;
}

/* The futex word is the low half of `tail` (little-endian layout on every target lurker builds for). */
static uint32_t *tail_futex_word(struct lurker_queue *q)
{
    return (uint32_t *)(void *)&q->shared->tail;
}

/* Indices come from shared memory and may be anything; the mask is ours, so the slot is always inside the ring. */
static struct queue_record *slot_at(struct lurker_queue *q, uint64_t index)
{
    return &q->shared->ring[index & (uint64_t)(q->slots - 1)];
}

enum queue_result queue_push(struct lurker_queue *q, struct queue_record *rec)
{
    struct queue_shared *s = q->shared;
    uint64_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&s->head, memory_order_acquire);
    if (tail - head >= q->slots) {
        atomic_fetch_add_explicit(&s->full_total, 1, memory_order_relaxed);
        return QUEUE_FULL;
    }
    rec->seq = tail;
    rec->version = QUEUE_RECORD_VERSION;
    *slot_at(q, tail) = *rec;
    atomic_store_explicit(&s->tail, tail + 1, memory_order_release);
    atomic_fetch_add_explicit(&s->pushed_total, 1, memory_order_relaxed);
    syscall(SYS_futex, tail_futex_word(q), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    return QUEUE_OK;
}

enum queue_result queue_peek(struct lurker_queue *q, struct queue_record *out)
{
    uint64_t head = atomic_load_explicit(&q->shared->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&q->shared->tail, memory_order_acquire);
    if (head == tail)
        return QUEUE_EMPTY;
    *out = *slot_at(q, head);
    out->seq = head; /* the slot's own copy is untrusted; the index is ours */
    return QUEUE_OK;
}

void queue_commit(struct lurker_queue *q, uint64_t seq)
{
    uint64_t head = atomic_load_explicit(&q->shared->head, memory_order_relaxed);
    if (seq == head)
        atomic_store_explicit(&q->shared->head, head + 1, memory_order_release);
}

bool queue_wait(struct lurker_queue *q, int timeout_ms)
{
    struct queue_shared *s = q->shared;
    uint64_t tail = atomic_load_explicit(&s->tail, memory_order_acquire);
    if (tail != atomic_load_explicit(&s->head, memory_order_relaxed))
        return true;
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    /* Sleeps only while the word still holds the tail we saw, so a push in between is never missed. */
    syscall(SYS_futex, tail_futex_word(q), FUTEX_WAIT, (uint32_t)tail, &ts, NULL, 0);
    return atomic_load_explicit(&s->tail, memory_order_acquire) != atomic_load_explicit(&s->head, memory_order_relaxed);
}

uint64_t queue_depth(const struct lurker_queue *q)
{
    uint64_t tail = atomic_load_explicit(&q->shared->tail, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&q->shared->head, memory_order_acquire);
    return tail - head;
}

bool queue_record_valid(const struct queue_record *rec)
{
    if (rec->version != QUEUE_RECORD_VERSION)
        return false;
    const struct flow_id *id = &rec->key.id;
    bool announced = rec->key.batch || id->proto == IPPROTO_TCP || id->proto == IPPROTO_UDP ||
                     id->proto == IPPROTO_ICMP || id->proto == IPPROTO_ICMPV6;
    char name[QUEUE_NAME_MAX];
    return announced && rec->last_us >= rec->key.first_us && memchr(rec->name, '\0', sizeof rec->name) != NULL &&
           spool_name_format(&rec->key, name, sizeof name) == 0 && strcmp(name, rec->name) == 0;
}
