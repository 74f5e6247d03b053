#include "flow_pool.h"

#include <stdlib.h>
#include <string.h>

#include "flow_table.h"

struct flow_slab {
    struct flow_slab *next;
    struct flow flows[FLOW_POOL_SLAB];
};

void flow_pool_init(struct flow_pool *p, uint64_t max_flows)
{
    memset(p, 0, sizeof *p);
    atomic_init(&p->returned, NULL);
    p->max_slots = (max_flows + FLOW_POOL_SLAB - 1) / FLOW_POOL_SLAB * FLOW_POOL_SLAB;
}

static void free_records(struct flow *list)
{
    for (; list; list = SLIST_NEXT(list, link.free))
        free(list->records);
}

void flow_pool_destroy(struct flow_pool *p)
{
    free_records(p->free);
    free_records(atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire));
    while (p->slabs) {
        struct flow_slab *s = p->slabs;
        p->slabs = s->next;
        free(s);
    }
    p->free = NULL;
}

/* A slot never used: from the newest slab, or a new slab (malloc'd, not touched: pages come as slots are used). */
static struct flow *fresh_slot(struct flow_pool *p)
{
    if (p->bump_next == p->bump_end) {
        if (p->slots >= p->max_slots) {
            p->stats.exhausted++;
            return NULL;
        }
        struct flow_slab *s = malloc(sizeof *s);
        if (s == NULL)
            return NULL;
        s->next = p->slabs;
        p->slabs = s;
        p->slots += FLOW_POOL_SLAB;
        p->bump_next = 0;
        p->bump_end = FLOW_POOL_SLAB;
        p->stats.slabs++;
    }
    struct flow *f = &p->slabs->flows[p->bump_next++];
    f->records = NULL;
    f->records_cap = 0;
    return f;
}

struct flow *flow_pool_get(struct flow_pool *p)
{
    if (p->free == NULL)
        p->free = atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire);
    struct flow *f = p->free;
    if (f) {
        p->free = SLIST_NEXT(f, link.free);
        p->stats.reused++;
    } else if ((f = fresh_slot(p)) == NULL) {
        return NULL;
    }
    uint8_t *records = f->records;
    uint32_t cap = f->records_cap;
    memset(f, 0, sizeof *f);
    f->records = records;
    f->records_cap = cap;
    f->pool = p;
    return f;
}

/* Large buffers go back to malloc: the pool keeps at most FLOW_RECORDS_KEEP bytes per idle flow. */
static void trim(struct flow *f)
{
    if (f->records_cap > FLOW_RECORDS_KEEP) {
        free(f->records);
        f->records = NULL;
        f->records_cap = 0;
    }
}

void flow_pool_put(struct flow_pool *p, struct flow *f)
{
    trim(f);
    SLIST_NEXT(f, link.free) = p->free;
    p->free = f;
}

void flow_chain_add(struct flow_chain *c, struct flow *f)
{
    if (f->pool == NULL) {
        free(f->records);
        free(f);
        return;
    }
    if (!SLIST_EMPTY(&c->flows) && c->pool != f->pool)
        flow_pool_hand_back(c);
    trim(f);
    if (SLIST_EMPTY(&c->flows))
        c->bottom = f;
    SLIST_INSERT_HEAD(&c->flows, f, link.free);
    c->pool = f->pool;
}

void flow_pool_hand_back(struct flow_chain *c)
{
    if (SLIST_EMPTY(&c->flows))
        return;
    struct flow *old = atomic_load_explicit(&c->pool->returned, memory_order_relaxed);
    do
        SLIST_NEXT(c->bottom, link.free) = old;
    while (!atomic_compare_exchange_weak_explicit(&c->pool->returned, &old, SLIST_FIRST(&c->flows),
                                                  memory_order_release, memory_order_relaxed));
    SLIST_INIT(&c->flows);
    c->bottom = NULL;
    c->pool = NULL;
}
