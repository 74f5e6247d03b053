#include "flow_table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "flow_hash.h"
#include "pcapfile.h"

#define MIN_BUCKETS 16
#define HUGE_PAGE (2u << 20)

/* The bucket array is read at a random place for every packet: on 4 KiB pages that is a TLB miss each time (the
 * profile's top entry). Large arrays are mapped on their own, 2 MiB aligned, and offered to transparent huge pages.
 * The array is touched at start (8 bytes per max_flows slot, rounded up to a power of two), so its cost is fixed
 * and no page fault happens under traffic. */
static int buckets_map(struct flow_table *t, uint64_t n)
{
    size_t bytes = n * sizeof *t->buckets;
    if (bytes < HUGE_PAGE) {
        t->buckets = calloc(n, sizeof *t->buckets);
        return t->buckets ? 0 : -1;
    }
    size_t total = bytes + HUGE_PAGE;
    void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return -1;
    uintptr_t aligned = ((uintptr_t)base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    madvise((void *)aligned, bytes, MADV_HUGEPAGE); /* a hint: without THP it simply stays 4 KiB pages */
    /* touched now, not under traffic: a huge-page fault may compact memory and stall for hundreds of ms */
    memset((void *)aligned, 0, bytes);
    t->buckets = (struct flow_bucket *)aligned;
    t->map_base = base;
    t->map_bytes = total;
    return 0;
}

int flow_table_init(struct flow_table *t, uint32_t max_flows, const uint8_t hash_key[16])
{
    memset(t, 0, sizeof *t);
    uint64_t n = MIN_BUCKETS;
    while (n < max_flows)
        n <<= 1;
    if (buckets_map(t, n) != 0)
        return -1;
    t->mask = n - 1;
    memcpy(t->hash_key, hash_key, 16);
    TAILQ_INIT(&t->quiet);
    TAILQ_INIT(&t->talking);
    return 0;
}

void flow_table_destroy(struct flow_table *t)
{
    struct flow *f;
    while ((f = flow_table_oldest(t)) != NULL) {
        flow_table_remove(t, f);
        flow_table_release(f);
    }
    if (t->map_base)
        munmap(t->map_base, t->map_bytes);
    else
        free(t->buckets);
    t->buckets = NULL;
    t->map_base = NULL;
}

static struct flow_bucket *bucket_of(const struct flow_table *t, const struct flow_key *key)
{
    return &t->buckets[flow_hash(t->hash_key, key, sizeof *key) & t->mask];
}

struct flow *flow_table_lookup(const struct flow_table *t, const struct flow_key *key)
{
    struct flow *f;
    LIST_FOREACH(f, bucket_of(t, key), link.hash)
        if (memcmp(&f->key, key, sizeof *key) == 0)
            return f;
    return NULL;
}

struct flow *flow_table_insert(struct flow_table *t, const struct flow_key *key, uint64_t now_mono_us)
{
    struct flow *f = t->pool ? flow_pool_get(t->pool) : calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    t->memory += f->records_cap; /* a recycled flow's buffer is held from now on */
    f->key = *key;
    f->first_mono_us = f->last_mono_us = now_mono_us;
    struct flow_bucket *b = bucket_of(t, key); /* once: the macro names its list several times */
    LIST_INSERT_HEAD(b, f, link.hash);
    f->flags = 0;
    TAILQ_INSERT_TAIL(&t->quiet, f, order);
    t->count++;
    return f;
}

static struct flow_order *order_of(struct flow_table *t, const struct flow *f)
{
    return (f->flags & FLOW_CLIENT_DATA) ? &t->talking : &t->quiet;
}

void flow_table_touch(struct flow_table *t, struct flow *f, uint64_t now_mono_us)
{
    f->last_mono_us = now_mono_us;
    if (TAILQ_NEXT(f, order) != NULL) { /* not the newest already */
        struct flow_order *o = order_of(t, f);
        TAILQ_REMOVE(o, f, order);
        TAILQ_INSERT_TAIL(o, f, order);
    }
}

void flow_table_mark_client_data(struct flow_table *t, struct flow *f)
{
    if (f->flags & FLOW_CLIENT_DATA)
        return;
    TAILQ_REMOVE(&t->quiet, f, order);
    f->flags |= FLOW_CLIENT_DATA;
    TAILQ_INSERT_TAIL(&t->talking, f, order);
}

void flow_table_remove(struct flow_table *t, struct flow *f)
{
    /* O(1): no rehash of the key, no walk of the chain (the profile's second user-space entry under a flood) */
    LIST_REMOVE(f, link.hash);
    TAILQ_REMOVE(order_of(t, f), f, order);
    t->count--;
    t->memory -= f->records_cap;
}

void flow_table_release(struct flow *f)
{
    struct flow_chain one = {0};
    flow_chain_add(&one, f);
    flow_pool_hand_back(&one);
}

void flow_drop_records(struct flow_table *t, struct flow *f)
{
    t->memory -= f->records_cap;
    free(f->records);
    f->records = NULL;
    f->records_cap = 0;
}

int flow_append(struct flow_table *t, struct flow *f, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                uint32_t wire_len, size_t max_records_bytes)
{
    size_t need = f->records_len + PCAPFILE_RECORD_HEADER_LEN + caplen;
    if (need > f->records_cap) {
        /* first buffer: the size the pool recycles (most flows are a SYN, its SYN+ACK and maybe a RST, and fit);
         * then grow by half */
        size_t cap = f->records_cap == 0 ? FLOW_RECORDS_KEEP : f->records_cap + f->records_cap / 2;
        if (cap < need)
            cap = need;
        if (cap > max_records_bytes && need <= max_records_bytes)
            cap = max_records_bytes;
        if (cap > UINT32_MAX)
            return -1;
        uint8_t *grown = realloc(f->records, cap);
        if (grown == NULL)
            return -1;
        t->memory += cap - f->records_cap;
        f->records = grown;
        f->records_cap = cap;
    }
    pcapfile_record_header(f->records + f->records_len, ts_us, caplen, wire_len);
    memcpy(f->records + f->records_len + PCAPFILE_RECORD_HEADER_LEN, data, caplen);
    f->records_len = need;
    if (f->packets == 0)
        f->first_us = ts_us;
    f->last_us = ts_us;
    f->packets++;
    f->wire_bytes += wire_len;
    return 0;
}
