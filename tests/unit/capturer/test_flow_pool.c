/* Capturer: the flow pool (flow_pool.h). Recycled flows come back zeroed with their small records buffer, large
 * buffers go back to malloc, the bound gives NULL (and the tracker's packets_nomem), chains handed back from another
 * thread all arrive, and a flood of single-SYN flows through the tracker stops growing the pool once warm. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "../../helpers/capturer_packets.h"
#include "../../../capturer/flow_pool.h"
#include "../../../capturer/flow_table.h"
#include "../../../capturer/tracker.h"
#include "pcap/pcap.h"

#include "../../helpers/capturer_flow_keys.h"

Test(capturer_pool, a_recycled_flow_is_zeroed_and_keeps_its_small_buffer)
{
    struct flow_pool pool;
    flow_pool_init(&pool, 16);
    struct flow_table t;
    cr_assert_eq(flow_table_init(&t, 16, test_key), 0);
    t.pool = &pool;
    struct flow_key k = key_n(1);
    struct flow *f = flow_table_insert(&t, &k, 5);
    uint8_t syn[60];
    memset(syn, 0x5a, sizeof syn);
    cr_assert_eq(flow_append(&t, f, 1, syn, sizeof syn, sizeof syn, 1 << 20), 0);
    uint8_t *buffer = f->records;
    cr_assert_eq(f->records_cap, FLOW_RECORDS_KEEP);
    cr_assert_eq(t.memory, FLOW_RECORDS_KEEP);
    flow_table_remove(&t, f);
    cr_assert_eq(t.memory, 0);
    f->flags = 0xffff; /* out of the table: its client-data bit no longer names the list that holds it */
    f->journal_serial = 99;
    flow_table_release(f);

    struct flow_key k2 = key_n(2);
    struct flow *g = flow_table_insert(&t, &k2, 7);
    cr_assert_eq(g, f, "the same slot comes back");
    cr_assert_eq(g->records, buffer, "with its buffer");
    cr_assert_eq(g->records_cap, FLOW_RECORDS_KEEP);
    cr_assert_eq(t.memory, FLOW_RECORDS_KEEP, "a recycled buffer is counted as held");
    cr_assert_eq(g->records_len, 0);
    cr_assert_eq(g->packets, 0);
    cr_assert_eq(g->flags, 0);
    cr_assert_eq(g->journal_serial, 0);
    cr_assert_eq(g->first_mono_us, 7);
    cr_assert_eq(memcmp(&g->key, &k2, sizeof k2), 0);
    cr_assert_eq(flow_table_lookup(&t, &k2), g);
    cr_assert_null(flow_table_lookup(&t, &k));
    cr_assert_eq(pool.stats.reused, 1);
    cr_assert_eq(pool.stats.slabs, 1);
    cr_assert_eq(flow_table_oldest(&t), g, "the recycled flow heads the table's order");
    flow_table_destroy(&t);
    flow_pool_destroy(&pool);
}

Test(capturer_pool, a_grown_buffer_goes_back_to_malloc)
{
    struct flow_pool pool;
    flow_pool_init(&pool, 16);
    struct flow_table t;
    cr_assert_eq(flow_table_init(&t, 16, test_key), 0);
    t.pool = &pool;
    struct flow_key k = key_n(1);
    struct flow *f = flow_table_insert(&t, &k, 0);
    uint8_t data[1000];
    memset(data, 1, sizeof data);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(flow_append(&t, f, 1, data, sizeof data, sizeof data, 1 << 20), 0);
    cr_assert_gt(f->records_cap, FLOW_RECORDS_KEEP);
    cr_assert_eq(t.memory, f->records_cap);
    flow_table_remove(&t, f);
    struct flow_chain chain = {0};
    flow_chain_add(&chain, f);
    cr_assert_null(f->records, "freed when it joins the chain, on the releasing thread");
    flow_pool_hand_back(&chain);
    cr_assert(SLIST_EMPTY(&chain.flows));
    struct flow *g = flow_table_insert(&t, &k, 1);
    cr_assert_eq(g, f);
    cr_assert_eq(g->records_cap, 0);
    cr_assert_eq(t.memory, 0);
    flow_table_destroy(&t);
    flow_pool_destroy(&pool);
}

Test(capturer_pool, the_bound_gives_null_until_a_flow_comes_back)
{
    struct flow_pool pool;
    flow_pool_init(&pool, 1); /* whole slabs: FLOW_POOL_SLAB flows */
    static struct flow *taken[FLOW_POOL_SLAB];
    for (size_t i = 0; i < FLOW_POOL_SLAB; i++)
        cr_assert_not_null(taken[i] = flow_pool_get(&pool));
    cr_assert_null(flow_pool_get(&pool));
    cr_assert_eq(pool.stats.exhausted, 1);
    flow_table_release(taken[17]);
    cr_assert_eq(flow_pool_get(&pool), taken[17]);
    cr_assert_null(flow_pool_get(&pool));
    for (size_t i = 0; i < FLOW_POOL_SLAB; i++)
        flow_pool_put(&pool, taken[i]);
    cr_assert_eq(pool.stats.slabs, 1);
    flow_pool_destroy(&pool);
}

/* ---- hand-back from another thread ---- */

#define HANDED (20 * FLOW_POOL_SLAB) /* whole slabs: the owner can only get flows handed back */
#define CHAIN 64

struct handoff {
    struct flow_pool *pool;
    struct flow **flows;
    size_t n;
};

static void *hand_back_in_chains(void *arg)
{
    struct handoff *h = arg;
    struct flow_chain chain = {0};
    for (size_t i = 0; i < h->n; i++) {
        flow_chain_add(&chain, h->flows[i]);
        if (i % CHAIN == CHAIN - 1)
            flow_pool_hand_back(&chain);
    }
    flow_pool_hand_back(&chain);
    return NULL;
}

Test(capturer_pool, chains_handed_back_from_another_thread_all_arrive)
{
    struct flow_pool pool;
    flow_pool_init(&pool, HANDED);
    static struct flow *flows[HANDED];
    for (size_t i = 0; i < HANDED; i++) {
        cr_assert_not_null(flows[i] = flow_pool_get(&pool));
        flows[i]->packets = (uint32_t)i + 1; /* stale state, to be zeroed on reuse */
    }
    uint64_t slots = pool.slots;
    struct handoff h = {.pool = &pool, .flows = flows, .n = HANDED};
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, hand_back_in_chains, &h), 0);
    /* meanwhile the owner takes whatever has come back, as the capture loop does */
    size_t got = 0;
    static struct flow *again[HANDED];
    while (got < HANDED) {
        struct flow *f = flow_pool_get(&pool);
        if (f == NULL)
            continue; /* at the bound until the thread hands more back */
        cr_assert_eq(f->packets, 0);
        again[got++] = f;
    }
    pthread_join(thread, NULL);
    cr_assert_eq(pool.slots, slots, "no slab added: every flow came back");
    cr_assert_eq(pool.stats.reused, HANDED);
    for (size_t i = 0; i < HANDED; i++)
        flow_pool_put(&pool, again[i]);
    flow_pool_destroy(&pool);
}

/* ---- through the tracker ---- */

static struct prefix sensor_prefixes[1];

struct holder {
    struct flow **held;
    size_t n, cap;
    struct flow_chain chain; /* when held is NULL: every finished flow handed straight back, as the writer does */
};

static void hold(void *arg, struct flow *f)
{
    struct holder *h = arg;
    if (h->held == NULL) {
        flow_chain_add(&h->chain, f);
        flow_pool_hand_back(&h->chain);
        return;
    }
    cr_assert_lt(h->n, h->cap);
    h->held[h->n++] = f;
}

static void init_tracker(struct tracker *tr, struct holder *h, uint32_t max_flows)
{
    const char *why;
    cr_assert_eq(prefix_parse("203.0.113.10", &sensor_prefixes[0], &why), 0);
    struct capturer_config cc = {.flow_timeout = 60, .max_flow_age = 600, .max_flows = max_flows,
                                 .max_flow_packets = 100, .max_flow_bytes = 1 << 20, .memory_limit = 1 << 30};
    cr_assert_eq(tracker_init(tr, &cc, sensor_prefixes, 1, DLT_EN10MB, test_key, hold, h), 0);
}

static void syn(struct tracker *tr, uint32_t n)
{
    struct test_frame f;
    char src[32];
    snprintf(src, sizeof src, "198.51.100.%u", 1 + n % 250);
    tf_ipv4(&f, src, "203.0.113.10", IPPROTO_TCP, (uint16_t)(1024 + n / 250), 80, TCPF_SYN, 1000, 0, 0);
    tracker_packet(tr, 1700000000000000ull + n, f.bytes, f.len, f.len, n);
}

Test(capturer_pool, a_single_syn_flood_stops_growing_the_pool_once_warm)
{
    struct tracker tr;
    struct holder h = {0};
    init_tracker(&tr, &h, 1000);
    for (uint32_t n = 0; n < 5000; n++) /* warm: 1000 open, the rest finished at max_flows and handed back */
        syn(&tr, n);
    uint64_t slabs = tr.pool.stats.slabs, reused = tr.pool.stats.reused;
    for (uint32_t n = 5000; n < 50000; n++)
        syn(&tr, n);
    cr_assert_eq(tr.pool.stats.slabs, slabs, "no slab after warm-up");
    cr_assert_eq(tr.pool.stats.reused - reused, 45000, "every new flow a recycled one");
    cr_assert_eq(tr.stats.flows_started, 50000);
    cr_assert_eq(tr.stats.finished[FINISH_MAX_FLOWS], 49000);
    cr_assert_eq(tr.table.memory, 1000u * FLOW_RECORDS_KEEP, "what the open flows hold");
    tracker_finish_all(&tr);
    cr_assert_eq(tr.table.memory, 0);
    tracker_destroy(&tr);
}

Test(capturer_pool, at_the_pools_bound_a_new_flow_is_counted_as_no_memory)
{
    struct tracker tr;
    static struct flow *held[4 * FLOW_POOL_SLAB];
    struct holder h = {.held = held, .cap = 4 * FLOW_POOL_SLAB};
    init_tracker(&tr, &h, 16);
    tr.pool.max_slots = FLOW_POOL_SLAB; /* as if the writer held every flow the bound allows */
    for (uint32_t n = 0; n < FLOW_POOL_SLAB + 10; n++)
        syn(&tr, n);
    cr_assert_eq(tr.table.count + h.n, FLOW_POOL_SLAB);
    cr_assert_eq(tr.stats.packets_nomem, 10);
    cr_assert_eq(tr.stats.flows_started, FLOW_POOL_SLAB);
    cr_assert_eq(tr.pool.stats.exhausted, 10);
    for (size_t i = 0; i < h.n; i++) /* the writer catches up: flows come back, new flows open again */
        flow_table_release(held[i]);
    h.n = 0;
    syn(&tr, 999999);
    cr_assert_eq(tr.stats.packets_nomem, 10);
    cr_assert_eq(tr.stats.flows_started, FLOW_POOL_SLAB + 1);
    tracker_finish_all(&tr);
    for (size_t i = 0; i < h.n; i++)
        flow_table_release(held[i]);
    tracker_destroy(&tr);
}

Test(capturer_pool, a_set_aside_entry_holds_no_recycled_buffer)
{
    struct tracker tr;
    struct holder h = {0};
    init_tracker(&tr, &h, 16);
    for (uint32_t n = 0; n < 100; n++) /* recycled flows with their 256-byte buffers */
        syn(&tr, n);
    tracker_finish_all(&tr);
    /* the host's own flow (from the sensor to an outsider's low port) goes to the aside table */
    struct test_frame f;
    tf_ipv4(&f, "203.0.113.10", "198.51.100.9", IPPROTO_TCP, 40000, 443, TCPF_SYN, 1000, 0, 0);
    tracker_packet(&tr, 1700000001000000ull, f.bytes, f.len, f.len, 1000000);
    cr_assert_eq(tr.stats.flows_ignored_local, 1);
    cr_assert_eq(tr.aside.count, 1);
    cr_assert_null(flow_table_oldest(&tr.aside)->records);
    cr_assert_eq(tr.aside.memory, 0);
    tracker_destroy(&tr);
}
