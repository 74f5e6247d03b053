/* Token buckets: exact refill, burst cap, per-network keying (/24, /64), no token taken when limited. */
#include <criterion/criterion.h>
#include <sys/socket.h>

#include "../../../responder/rate_limit.h"

#define S 1000000000ULL

static const uint8_t KEY[16] = {1, 2, 3, 4, 5};

Test(responder_rate_limit, bucket_refills_exactly_and_caps_at_burst)
{
    struct token_bucket b;
    token_bucket_init(&b, 1000, 10, 0);
    int got = 0;
    for (int i = 0; i < 100; i++)
        if (token_bucket_ready(&b, 0))
            token_bucket_take(&b), got++;
    cr_assert_eq(got, 10);
    cr_assert_not(token_bucket_ready(&b, S / 1000 - 1));
    cr_assert(token_bucket_ready(&b, S / 1000)); /* exactly 1 ms later: one token */
    token_bucket_take(&b);
    cr_assert(token_bucket_ready(&b, 3600 * S)); /* an hour idle: back to the burst, not beyond */
    got = 0;
    while (token_bucket_ready(&b, 3600 * S))
        token_bucket_take(&b), got++;
    cr_assert_eq(got, 10);
}

Test(responder_rate_limit, global_limit_over_many_sources_counts_exactly)
{
    struct rate_limiter rl;
    cr_assert_eq(rate_limiter_init(&rl, 100, 50, 1000000, 1000000, 1024, KEY, 0), 0);
    int pass = 0, global = 0, source = 0;
    for (int i = 0; i < 10000; i++) { /* 10,000 SYNs over one second from 10,000 IPv6 /64s */
        struct ip_addr a;
        uint8_t b[16] = {0x20, 1, 0xd, 0xb8, (uint8_t)(i >> 8), (uint8_t)i, 0, 0, [15] = 1};
        ip_addr_from_v6(&a, b);
        switch (rate_limiter_check(&rl, &a, (uint64_t)i * (S / 10000))) {
        case RATE_PASS: pass++; break;
        case RATE_LIMITED_GLOBAL: global++; break;
        case RATE_LIMITED_SOURCE: source++; break;
        }
    }
    cr_assert(pass >= 149 && pass <= 150, "passed %d (burst 50 + 100/s over 1 s)", pass);
    cr_assert_eq(pass + global, 10000);
    cr_assert_eq(source, 0);
    rate_limiter_free(&rl);
}

Test(responder_rate_limit, per_source_slash24_and_slash64)
{
    struct rate_limiter rl;
    cr_assert_eq(rate_limiter_init(&rl, 1000000, 1000000, 10, 5, 1024, KEY, 0), 0);
    struct ip_addr a, b, c;
    ip_addr_from_v4(&a, (const uint8_t[]){198, 51, 100, 2});
    ip_addr_from_v4(&b, (const uint8_t[]){198, 51, 100, 77}); /* same /24 */
    ip_addr_from_v4(&c, (const uint8_t[]){198, 51, 101, 2});  /* next /24 */
    int pass = 0;
    for (int i = 0; i < 20; i++)
        pass += rate_limiter_check(&rl, i % 2 ? &a : &b, 0) == RATE_PASS;
    cr_assert_eq(pass, 5);
    cr_assert_eq(rate_limiter_check(&rl, &a, 0), RATE_LIMITED_SOURCE);
    cr_assert_eq(rate_limiter_check(&rl, &c, 0), RATE_PASS);
    cr_assert_eq(rate_limiter_check(&rl, &a, S / 10), RATE_PASS); /* 100 ms at 10/s: one more */
    struct ip_addr x, y;
    ip_addr_from_v6(&x, (const uint8_t[]){0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0xaa, [15] = 1});
    ip_addr_from_v6(&y, (const uint8_t[]){0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0xbb, [15] = 9}); /* same /64 */
    pass = 0;
    for (int i = 0; i < 20; i++)
        pass += rate_limiter_check(&rl, i % 2 ? &x : &y, S) == RATE_PASS;
    cr_assert_eq(pass, 5);
    rate_limiter_free(&rl);
}

Test(responder_rate_limit, a_full_table_forgets_the_least_recent_network)
{
    struct rate_limiter rl;
    cr_assert_eq(rate_limiter_init(&rl, 1000000, 1000000, 1, 1, 8, KEY, 0), 0);
    cr_assert_eq(rl.nsets * 4, 8);
    struct ip_addr first;
    ip_addr_from_v4(&first, (const uint8_t[]){10, 0, 0, 1});
    cr_assert_eq(rate_limiter_check(&rl, &first, 0), RATE_PASS);
    for (int i = 1; i <= 1000; i++) { /* many other networks later: `first` is evicted and starts afresh */
        struct ip_addr a;
        ip_addr_from_v4(&a, (const uint8_t[]){10, (uint8_t)(i >> 8), (uint8_t)i, 1});
        rate_limiter_check(&rl, &a, (uint64_t)i);
    }
    cr_assert_eq(rate_limiter_check(&rl, &first, 2000), RATE_PASS);
    rate_limiter_free(&rl);
}
