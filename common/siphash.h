/* SipHash (Aumasson & Bernstein), one implementation for every keyed hash in lurker:
 *   siphash24 - SipHash-2-4, the SYN cookie (responder, capturer); checked against OpenSSL's SIPHASH in the tests;
 *   siphash13 - SipHash-1-3, the capturer's flow table, hashed once per packet: flow keys come from
 *               attacker-chosen addresses and ports, so the table needs a keyed hash, and 1-3 is the variant hash
 *               tables use (Rust, Python) when 2-4's extra rounds cost more than they protect.
 * Inline so that each variant's round counts are constants in its hot loop. Keys and input are little-endian. */
#ifndef LURKER_SIPHASH_H
#define LURKER_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t siphash_rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t siphash_load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define SIPHASH_ROUND(v0, v1, v2, v3)                                                                              \
    do {                                                                                                           \
        v0 += v1; v1 = siphash_rotl(v1, 13); v1 ^= v0; v0 = siphash_rotl(v0, 32);                                  \
        v2 += v3; v3 = siphash_rotl(v3, 16); v3 ^= v2;                                                             \
        v0 += v3; v3 = siphash_rotl(v3, 21); v3 ^= v0;                                                             \
        v2 += v1; v1 = siphash_rotl(v1, 17); v1 ^= v2; v2 = siphash_rotl(v2, 32);                                  \
    } while (0)

static inline uint64_t siphash_cd(const uint8_t key[16], const void *data, size_t len, int c_rounds, int d_rounds)
{
    const uint8_t *in = data;
    uint64_t k0 = siphash_load_le64(key), k1 = siphash_load_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len - (len % 8);
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = siphash_load_le64(in + i);
        v3 ^= m;
        for (int r = 0; r < c_rounds; r++)
            SIPHASH_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)in[full + i] << (8 * i);
    v3 ^= last;
    for (int r = 0; r < c_rounds; r++)
        SIPHASH_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int r = 0; r < d_rounds; r++)
        SIPHASH_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

static inline uint64_t siphash24(const uint8_t key[16], const void *data, size_t len)
{
    return siphash_cd(key, data, len, 2, 4);
}

static inline uint64_t siphash13(const uint8_t key[16], const void *data, size_t len)
{
    return siphash_cd(key, data, len, 1, 3);
}

#endif
