/* The ACK path's sequence table: what counts as in order, old or past a hole (modulo 2^32), and which flow goes when
 * a set is full. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../../responder/seq_table.h"

static const uint8_t KEY[16] = {9, 8, 7, 6, 5};
#define WINDOW (1u << 20)

static struct seq_flow flow(uint16_t sport)
{
    struct seq_flow f;
    memset(&f, 0, sizeof f);
    f.src[10] = f.src[11] = 0xff;
    f.src[12] = 198, f.src[13] = 51, f.src[14] = 100, f.src[15] = 2;
    f.dst[10] = f.dst[11] = 0xff;
    f.dst[12] = 203, f.dst[13] = 0, f.dst[14] = 113, f.dst[15] = 10;
    f.sport = sport;
    f.dport = 80;
    return f;
}

Test(responder_seq_table, in_order_old_and_ahead)
{
    uint32_t next = 1000;
    cr_assert_eq(seq_accept(&next, 1000, 0, WINDOW), SEQ_IN_ORDER); /* the handshake's ACK: nothing new */
    cr_assert_eq(next, 1000);
    cr_assert_eq(seq_accept(&next, 1000, 100, WINDOW), SEQ_IN_ORDER);
    cr_assert_eq(next, 1100);
    cr_assert_eq(seq_accept(&next, 1000, 100, WINDOW), SEQ_OLD); /* a retransmission */
    cr_assert_eq(seq_accept(&next, 1050, 50, WINDOW), SEQ_OLD);
    cr_assert_eq(seq_accept(&next, 1000, 0, WINDOW), SEQ_OLD);
    cr_assert_eq(next, 1100);
    cr_assert_eq(seq_accept(&next, 1050, 100, WINDOW), SEQ_IN_ORDER); /* overlaps, brings 50 new bytes */
    cr_assert_eq(next, 1150);
    cr_assert_eq(seq_accept(&next, 1151, 10, WINDOW), SEQ_AHEAD); /* one byte missing */
    cr_assert_eq(seq_accept(&next, 1250, 0, WINDOW), SEQ_AHEAD);  /* an ACK from a client with bytes in flight */
    cr_assert_eq(next, 1150);
}

Test(responder_seq_table, reorder_never_moves_past_the_hole)
{
    /* A [0,100) B [100,200) C [200,300) arriving C, B, A: only A moves next, then B, then C (each again) */
    uint32_t next = 5000;
    cr_assert_eq(seq_accept(&next, 5200, 100, WINDOW), SEQ_AHEAD);
    cr_assert_eq(seq_accept(&next, 5100, 100, WINDOW), SEQ_AHEAD);
    cr_assert_eq(next, 5000);
    cr_assert_eq(seq_accept(&next, 5000, 100, WINDOW), SEQ_IN_ORDER);
    cr_assert_eq(next, 5100);
    cr_assert_eq(seq_accept(&next, 5200, 100, WINDOW), SEQ_AHEAD);
    cr_assert_eq(seq_accept(&next, 5100, 100, WINDOW), SEQ_IN_ORDER);
    cr_assert_eq(seq_accept(&next, 5200, 101, WINDOW), SEQ_IN_ORDER); /* C with the FIN */
    cr_assert_eq(next, 5301);
}

Test(responder_seq_table, wrap_around)
{
    uint32_t next = 0xffffff00u;
    cr_assert_eq(seq_accept(&next, 0xffffff00u, 0x200, WINDOW), SEQ_IN_ORDER); /* crosses 2^32 */
    cr_assert_eq(next, 0x100);
    cr_assert_eq(seq_accept(&next, 0xffffff80u, 0x100, WINDOW), SEQ_OLD);
    cr_assert_eq(seq_accept(&next, 0x180, 10, WINDOW), SEQ_AHEAD);
    cr_assert_eq(seq_accept(&next, 0xfffffff0u, 0x120, WINDOW), SEQ_IN_ORDER);
    cr_assert_eq(next, 0x110);
    next = 0xffffffffu;
    cr_assert_eq(seq_accept(&next, 0, 10, WINDOW), SEQ_AHEAD); /* one byte (the last before the wrap) missing */
    cr_assert_eq(seq_accept(&next, 0xffffffffu, 1, WINDOW), SEQ_IN_ORDER);
    cr_assert_eq(next, 0);
}

Test(responder_seq_table, far_from_next_is_out_of_window)
{
    uint32_t next = 1000;
    cr_assert_eq(seq_accept(&next, 1000 + WINDOW, 10, WINDOW), SEQ_AHEAD);
    cr_assert_eq(seq_accept(&next, 1001 + WINDOW, 10, WINDOW), SEQ_OUT_OF_WINDOW);
    cr_assert_eq(seq_accept(&next, 1000 - WINDOW, 10, WINDOW), SEQ_OLD);
    cr_assert_eq(seq_accept(&next, 999 - WINDOW, 10, WINDOW), SEQ_OUT_OF_WINDOW);
    cr_assert_eq(seq_accept(&next, 1000 + 0x80000000u, 10, WINDOW), SEQ_OUT_OF_WINDOW);
    cr_assert_eq(next, 1000);
}

Test(responder_seq_table, find_add_forget)
{
    struct seq_table t;
    cr_assert_eq(seq_table_init(&t, 1024, KEY), 0);
    cr_assert_eq(t.nsets, 256);
    struct seq_flow a = flow(40000), b = flow(40001);
    cr_assert_null(seq_table_find(&t, &a));
    bool evicted = true;
    struct seq_entry *e = seq_table_add(&t, &a, &evicted);
    cr_assert_not(evicted);
    e->isn = 7;
    e->next = 1234;
    cr_assert_null(seq_table_find(&t, &b));
    e = seq_table_find(&t, &a);
    cr_assert_not_null(e);
    cr_assert_eq(e->next, 1234);
    cr_assert_eq(e->isn, 7);
    seq_table_forget(&t, e);
    cr_assert_null(seq_table_find(&t, &a));
    seq_table_free(&t);
}

Test(responder_seq_table, a_full_set_evicts_its_least_recently_used)
{
    struct seq_table t;
    cr_assert_eq(seq_table_init(&t, SEQ_TABLE_WAYS, KEY), 0); /* one set: every flow lands in it */
    cr_assert_eq(t.nsets, 1);
    struct seq_flow f[SEQ_TABLE_WAYS + 2];
    bool evicted;
    for (int i = 0; i < SEQ_TABLE_WAYS; i++) {
        f[i] = flow((uint16_t)(1000 + i));
        seq_table_add(&t, &f[i], &evicted)->next = (uint32_t)i;
        cr_assert_not(evicted);
    }
    cr_assert_not_null(seq_table_find(&t, &f[0])); /* 0 used again: 1 is now the least recently used */
    f[SEQ_TABLE_WAYS] = flow(2000);
    seq_table_add(&t, &f[SEQ_TABLE_WAYS], &evicted);
    cr_assert(evicted);
    cr_assert_null(seq_table_find(&t, &f[1]));
    for (int i = 0; i <= SEQ_TABLE_WAYS; i++)
        if (i != 1)
            cr_assert_not_null(seq_table_find(&t, &f[i]), "flow %d", i);
    /* a forgotten way is taken before anything is evicted */
    seq_table_forget(&t, seq_table_find(&t, &f[2]));
    f[SEQ_TABLE_WAYS + 1] = flow(2001);
    seq_table_add(&t, &f[SEQ_TABLE_WAYS + 1], &evicted);
    cr_assert_not(evicted);
    cr_assert_not_null(seq_table_find(&t, &f[0]));
    seq_table_free(&t);
}

Test(responder_seq_table, flows_spread_over_the_sets)
{
    struct seq_table t;
    cr_assert_eq(seq_table_init(&t, 4096, KEY), 0);
    bool evicted;
    int evictions = 0;
    /* half full (2 flows per set on average): a uniform hash overflows about 72 times (Poisson(2) loads above 4);
     * flows piling into few sets would evict nearly all of them */
    for (int i = 0; i < 2048; i++) {
        struct seq_flow f = flow((uint16_t)(10000 + i));
        seq_table_add(&t, &f, &evicted);
        evictions += evicted;
    }
    cr_assert_lt(evictions, 160, "%d evictions", evictions);
    seq_table_free(&t);
}
