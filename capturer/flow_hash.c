#include "flow_hash.h"

#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v; /* little-endian hosts only matter for portability of hash values, not for correctness */
}

#define SIPROUND                                                                                                   \
    do {                                                                                                           \
        v0 += v1;                                                                                                  \
        v1 = ROTL(v1, 13);                                                                                         \
        v1 ^= v0;                                                                                                  \
        v0 = ROTL(v0, 32);                                                                                         \
        v2 += v3;                                                                                                  \
        v3 = ROTL(v3, 16);                                                                                         \
        v3 ^= v2;                                                                                                  \
        v0 += v3;                                                                                                  \
        v3 = ROTL(v3, 21);                                                                                         \
        v3 ^= v0;                                                                                                  \
        v2 += v1;                                                                                                  \
        v1 = ROTL(v1, 17);                                                                                         \
        v1 ^= v2;                                                                                                  \
        v2 = ROTL(v2, 32);                                                                                         \
    } while (0)

uint64_t flow_hash(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t k0 = load64(key), k1 = load64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load64(in + i);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        last |= (uint64_t)in[full + i] << (8 * i);
    v3 ^= last;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}
