/* TCP reassembly policy of the analyzer (analyzer/reassembly.h): order, retransmissions, overlaps (first-seen
 * wins), gaps listed and never zero-filled, wrap-around, the byte cap, and datagrams. */
#include <criterion/criterion.h>
#include <string.h>

#include "../../../analyzer/reassembly.h"

static const char TEXT[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static struct segment seg(uint32_t isn, uint32_t off, const char *data, uint32_t len)
{
    return (struct segment){ .seq = isn + 1 + off, .len = len, .data = (const uint8_t *)data };
}

static void expect_bytes(const struct stream *s, const char *want)
{
    cr_assert_eq(s->len, strlen(want), "length %zu, want %zu", s->len, strlen(want));
    cr_assert(memcmp(s->bytes, want, s->len) == 0, "got %.*s", (int)s->len, (const char *)s->bytes);
}

Test(analyzer_reassembly, in_order_and_reordered)
{
    uint32_t isn = 1000;
    struct segment in_order[] = { seg(isn, 0, TEXT, 10), seg(isn, 10, TEXT + 10, 10), seg(isn, 20, TEXT + 20, 16) };
    struct segment shuffled[] = { in_order[2], in_order[0], in_order[1] };
    struct stream s;
    cr_assert_eq(reassemble_tcp(in_order, 3, true, isn, 1 << 20, &s), 0);
    expect_bytes(&s, TEXT);
    cr_assert_eq(s.out_of_order, 0);
    reassembly_stream_free(&s);
    cr_assert_eq(reassemble_tcp(shuffled, 3, true, isn, 1 << 20, &s), 0);
    expect_bytes(&s, TEXT);
    cr_assert_eq(s.ngaps, 0);
    cr_assert_geq(s.out_of_order, 1);
    reassembly_stream_free(&s);
}

Test(analyzer_reassembly, retransmission_counted_once)
{
    struct segment segs[] = { seg(7, 0, TEXT, 10), seg(7, 0, TEXT, 10), seg(7, 10, TEXT + 10, 5), seg(7, 0, TEXT, 10) };
    struct stream s;
    reassemble_tcp(segs, 4, true, 7, 1 << 20, &s);
    expect_bytes(&s, "0123456789abcde");
    cr_assert_eq(s.retransmissions, 2);
    cr_assert_eq(s.overlaps, 0);
    reassembly_stream_free(&s);
}

Test(analyzer_reassembly, overlap_first_seen_wins)
{
    static const char other[] = "ZZZZZZZZZZZZZZZZZZZZ";
    struct segment segs[] = { seg(0, 0, TEXT, 10), seg(0, 5, other, 10), seg(0, 15, TEXT + 15, 5) };
    struct stream s;
    reassemble_tcp(segs, 3, true, 0, 1 << 20, &s);
    expect_bytes(&s, "01234" "56789" "ZZZZZ" "fghij");
    cr_assert_eq(s.overlaps, 1);
    cr_assert_eq(s.overlap_conflicts, 1);
    reassembly_stream_free(&s);
}

Test(analyzer_reassembly, gaps_are_listed_not_filled)
{
    struct segment segs[] = { seg(50, 0, TEXT, 5), seg(50, 10, TEXT + 10, 5), seg(50, 30, TEXT + 30, 6) };
    struct stream s;
    reassemble_tcp(segs, 3, true, 50, 1 << 20, &s);
    expect_bytes(&s, "01234abcdeuvwxyz");
    cr_assert_eq(s.ngaps, 2);
    cr_assert_eq(s.gaps[0].offset, 5);
    cr_assert_eq(s.gaps[0].length, 5);
    cr_assert_eq(s.gaps[1].offset, 15);
    cr_assert_eq(s.gaps[1].length, 15);
    cr_assert_eq(s.gap_bytes, 20);
    reassembly_stream_free(&s);
}

Test(analyzer_reassembly, sequence_wraparound)
{
    uint32_t isn = 0xfffffff0u; /* data starts at 0xfffffff1 and crosses 2^32 after 15 bytes */
    struct segment segs[] = { seg(isn, 20, TEXT + 20, 16), seg(isn, 0, TEXT, 20) };
    struct stream s;
    reassemble_tcp(segs, 2, true, isn, 1 << 20, &s);
    expect_bytes(&s, TEXT);
    cr_assert_eq(s.ngaps, 0);
    reassembly_stream_free(&s);
}

Test(analyzer_reassembly, without_syn_starts_at_lowest_sequence)
{
    struct segment segs[] = { seg(100, 10, TEXT + 10, 10), seg(100, 0, TEXT, 10) };
    struct stream s;
    reassemble_tcp(segs, 2, false, 0, 1 << 20, &s);
    expect_bytes(&s, "0123456789abcdefghij");
    reassembly_stream_free(&s);
}

Test(analyzer_reassembly, byte_cap_cuts_and_counts)
{
    struct segment segs[] = { seg(0, 0, TEXT, 36) };
    struct stream s;
    reassemble_tcp(segs, 1, true, 0, 8, &s);
    expect_bytes(&s, "01234567");
    cr_assert_eq(s.cut_bytes, 28);
    reassembly_stream_free(&s);
}

Test(analyzer_reassembly, data_before_the_syn_is_outside)
{
    struct segment segs[] = { seg(100, 0, TEXT, 4), { .seq = 95, .len = 10, .data = (const uint8_t *)TEXT } };
    struct stream s;
    reassemble_tcp(segs, 2, true, 100, 1 << 20, &s);
    cr_assert_eq(s.outside_bytes, 6);
    expect_bytes(&s, "0123");
    reassembly_stream_free(&s);
}

Test(analyzer_reassembly, datagrams_in_order_with_cap)
{
    struct segment segs[] = { { 0, 3, (const uint8_t *)"abc" }, { 0, 4, (const uint8_t *)"defg" } };
    struct stream s;
    reassemble_datagrams(segs, 2, 5, &s);
    expect_bytes(&s, "abcde");
    cr_assert_eq(s.cut_bytes, 2);
    reassembly_stream_free(&s);
}
