/* SipHash-2-4 against OpenSSL's SIPHASH (an independent implementation) and the SYN-cookie ISN's properties. */
#include <criterion/criterion.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "syncookie.h"

static uint64_t openssl_siphash(const uint8_t key[16], const uint8_t *msg, size_t len)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    cr_assert_not_null(mac);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    size_t size = 8;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    cr_assert_eq(EVP_MAC_init(ctx, key, 16, params), 1);
    cr_assert_eq(EVP_MAC_update(ctx, msg, len), 1);
    uint8_t out[8];
    size_t outlen = 0;
    cr_assert_eq(EVP_MAC_final(ctx, out, &outlen, sizeof out), 1);
    cr_assert_eq(outlen, 8);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | out[i];
    return v;
}

Test(responder_syncookie, siphash_matches_openssl_for_every_length_0_to_64)
{
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    for (size_t len = 0; len <= 64; len++)
        cr_assert_eq(siphash24(key, msg, len), openssl_siphash(key, msg, len), "length %zu", len);
    /* the paper's first vector (key 00..0f, empty message) */
    cr_assert_eq(siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
    cr_assert_eq(siphash24(key, msg, 15), 0xa129ca6149be45e5ULL);
}

static void tuple(uint32_t i, struct ip_addr *src, struct ip_addr *dst, uint16_t *sport, uint16_t *dport)
{
    uint8_t s4[4] = {198, 51, (uint8_t)(i >> 24), (uint8_t)(i >> 16)};
    uint8_t d4[4] = {203, 0, 113, 10};
    ip_addr_from_v4(src, s4);
    ip_addr_from_v4(dst, d4);
    *sport = (uint16_t)(i >> 8 | 1024);
    *dport = (uint16_t)(i & 0xff);
}

Test(responder_syncookie, same_tuple_same_isn_different_key_unrelated)
{
    uint8_t k1[16] = {1}, k2[16] = {2};
    struct ip_addr s, d;
    uint16_t sp, dp;
    int equal = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        tuple(i * 2654435761u, &s, &d, &sp, &dp);
        uint32_t a = syncookie_isn(k1, &s, &d, sp, dp, 1000);
        cr_assert_eq(a, syncookie_isn(k1, &s, &d, sp, dp, 1000));
        if (a == syncookie_isn(k2, &s, &d, sp, dp, 1000))
            equal++;
    }
    cr_assert_leq(equal, 1, "%d of 10000 ISNs equal under two keys", equal);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* 1,000,000 distinct tuples (sources, source ports and destination ports all vary). A 32-bit ISN cannot be unique
 * over 1e6 tuples by any keyed function: a random one repeats n^2/2^33 = 116.4 times on average (sd ~10.8). We
 * assert the repeats are what a random function gives: far more would mean structure (the original tool's PRNG
 * repeated everything), none at all would mean an ISN that is a function of too few bits. */
Test(responder_syncookie, a_million_tuples_repeat_only_as_a_random_function_would, .timeout = 60)
{
    enum { N = 1000000 };
    uint32_t *isn = malloc(sizeof *isn * N);
    cr_assert_not_null(isn);
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)(0x5a ^ i * 37);
    struct ip_addr s, d;
    uint16_t sp, dp;
    for (uint32_t i = 0; i < N; i++) {
        tuple(i * 7919u, &s, &d, &sp, &dp);
        isn[i] = syncookie_isn(key, &s, &d, sp, dp, 12345);
    }
    qsort(isn, N, sizeof *isn, cmp_u32);
    int repeats = 0;
    for (uint32_t i = 1; i < N; i++)
        repeats += isn[i] == isn[i - 1];
    cr_log_info("repeats over 1e6 tuples: %d (expected 116.4)", repeats);
    cr_assert(repeats >= 70 && repeats <= 170, "repeats %d outside a random function's range", repeats);
    free(isn);
}

Test(responder_syncookie, ack_valid_for_current_and_previous_slot_only)
{
    uint8_t key[16] = {9, 8, 7};
    struct ip_addr s, d;
    uint16_t sp, dp;
    tuple(424242, &s, &d, &sp, &dp);
    uint32_t isn = syncookie_isn(key, &s, &d, sp, dp, 500);
    cr_assert(syncookie_ack_valid(key, &s, &d, sp, dp, isn + 1, 500));
    cr_assert(syncookie_ack_valid(key, &s, &d, sp, dp, isn + 1, 501));
    cr_assert_not(syncookie_ack_valid(key, &s, &d, sp, dp, isn + 1, 502));
    cr_assert_not(syncookie_ack_valid(key, &s, &d, sp, dp, isn, 500));
    cr_assert_not(syncookie_ack_valid(key, &s, &d, sp + 1, dp, isn + 1, 500));
    uint8_t other[16] = {9, 8, 6};
    cr_assert_not(syncookie_ack_valid(other, &s, &d, sp, dp, isn + 1, 500));
}

Test(responder_syncookie, ack_isn_allows_what_we_sent_after_the_synack)
{
    uint8_t key[16] = {9, 8, 7};
    struct ip_addr s, d;
    uint16_t sp, dp;
    tuple(777, &s, &d, &sp, &dp);
    uint32_t isn = syncookie_isn(key, &s, &d, sp, dp, 500), got = 0;
    for (uint32_t acked = 0; acked <= 23; acked++) { /* a 22-byte banner and a FIN */
        got = 0;
        cr_assert(syncookie_ack_isn(key, &s, &d, sp, dp, isn + 1 + acked, 23, 501, &got), "acked %u", acked);
        cr_assert_eq(got, isn);
    }
    cr_assert_not(syncookie_ack_isn(key, &s, &d, sp, dp, isn + 1 + 24, 23, 501, &got));
    cr_assert_not(syncookie_ack_isn(key, &s, &d, sp, dp, isn, 23, 501, &got)); /* before ISN + 1 */
    cr_assert_not(syncookie_ack_isn(key, &s, &d, sp, dp, isn + 1, 23, 502, &got)); /* two slots later */
    uint32_t now = syncookie_isn(key, &s, &d, sp, dp, 501);
    cr_assert(syncookie_ack_isn(key, &s, &d, sp, dp, now + 1, 0, 501, &got));
    cr_assert_eq(got, now);
}

Test(responder_syncookie, ipv6_tuples_and_the_coarse_clock)
{
    uint8_t key[16] = {1, 2, 3};
    struct ip_addr s, d;
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0xa, [15] = 2}, b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 5, [15] = 0x10};
    ip_addr_from_v6(&s, a);
    ip_addr_from_v6(&d, b);
    cr_assert_neq(syncookie_isn(key, &s, &d, 1, 2, 7), syncookie_isn(key, &d, &s, 1, 2, 7));
    cr_assert_neq(syncookie_isn(key, &s, &d, 1, 2, 7), syncookie_isn(key, &s, &d, 1, 2, 8));
    cr_assert_eq(syncookie_coarse(0), 0);
    cr_assert_eq(syncookie_coarse(SYNCOOKIE_SLOT_SECONDS - 1), 0);
    cr_assert_eq(syncookie_coarse(SYNCOOKIE_SLOT_SECONDS), 1);
}
