/* Where flows come from and go back to, so that the steady state allocates nothing: flow structs are carved from
 * slabs of FLOW_POOL_SLAB (grown in chunks, never shrunk, up to a bound) and recycled, and each keeps its records
 * buffer when that buffer is small (FLOW_RECORDS_KEEP bytes: the first capacity flow_append gives, enough for a
 * SYN, our SYN+ACK and a RST). A flood of short flows then costs no malloc/free per flow or per packet once the
 * pool holds as many flows as are alive at once; a flow with more bytes grows its buffer geometrically (amortized)
 * and gives the grown buffer back to malloc when it is recycled, so the pool's idle memory stays bounded by
 * FLOW_RECORDS_KEEP per pooled flow.
 *
 * Threads: the owner (the capture loop) takes flows and may put them back directly. Any other thread (the writer)
 * collects the flows it is done with in a chain and hands the whole chain back with one compare-and-swap
 * (flow_pool_hand_back); the owner takes everything handed back in one atomic exchange when its own list is empty.
 * Taking all at once is what keeps this lock-free stack free of the ABA problem. No lock, no atomic per flow.
 *
 * A flow's records_cap is the size of the buffer it holds, whether fresh or recycled: the memory the tables count
 * is what the flows hold. */
#ifndef LURKER_CAPTURER_FLOW_POOL_H
#define LURKER_CAPTURER_FLOW_POOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#define FLOW_POOL_SLAB 1024
#define FLOW_RECORDS_KEEP 256

struct flow;
struct flow_slab;

struct flow_pool_stats {
    uint64_t slabs;     /* chunks of FLOW_POOL_SLAB flows allocated */
    uint64_t reused;    /* flows taken from the pool rather than from a fresh slab */
    uint64_t exhausted; /* flow_pool_get found the pool at its bound */
};

struct flow_pool {
    struct flow *free;                   /* the owner's: ready to use, linked through link.free */
    _Atomic(struct flow *) returned;     /* handed back from any thread */
    struct flow_slab *slabs;
    uint32_t bump_next, bump_end;        /* unused slots of the newest slab (touched only when first used) */
    uint64_t slots, max_slots;
    struct flow_pool_stats stats;
};

/* A stack of flows one thread is done with, to be handed back at once (zeroed: empty). */
SLIST_HEAD(flow_stack, flow);
struct flow_chain {
    struct flow_stack flows;
    struct flow *bottom;                 /* the first added: it links the chain to what the pool holds already */
    struct flow_pool *pool;
};

/* max_flows: the bound on flows alive at once (taken + waiting to be handed back), rounded up to whole slabs. */
void flow_pool_init(struct flow_pool *p, uint64_t max_flows);
/* Every flow must have come back (flows still out are lost with their slab). */
void flow_pool_destroy(struct flow_pool *p);

/* Owner thread. A zeroed flow (its small recycled records buffer kept, records_len 0), or NULL at the bound or
 * without memory. */
struct flow *flow_pool_get(struct flow_pool *p);
/* Owner thread: back into the pool now. */
void flow_pool_put(struct flow_pool *p, struct flow *f);

/* Any thread: f joins the chain (a large records buffer is freed here, not in the capture loop). A flow from no
 * pool is freed. A flow from another pool than the chain's first hands the chain back first. */
void flow_chain_add(struct flow_chain *c, struct flow *f);
/* Any thread: the whole chain back to its pool in one atomic operation; the chain is empty after. */
void flow_pool_hand_back(struct flow_chain *c);

#endif
