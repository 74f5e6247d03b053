/* SipHash-2-4 and the SYN-cookie ISN built on it. Our own SipHash (a few lines) instead of OpenSSL's EVP_MAC: the
 * responder computes one per SYN, and an EVP context per packet costs more than the whole hash. The unit test checks
 * it against OpenSSL's SIPHASH. */
#include "syncookie.h"

#include <string.h>
#include <time.h>

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define SIPROUND(v0, v1, v2, v3)                                                                                     \
    do {                                                                                                             \
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);                                                \
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                                                                     \
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                                                                     \
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);                                                \
    } while (0)

uint64_t siphash24(const uint8_t key[SYNCOOKIE_KEY_BYTES], const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    size_t full = len - (len % 8);

    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(in + i);
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)in[full + i] << (8 * i);
    v3 ^= last;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

uint32_t syncookie_coarse(uint64_t unix_seconds)
{
    return (uint32_t)(unix_seconds / SYNCOOKIE_SLOT_SECONDS);
}

uint32_t syncookie_coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return syncookie_coarse((uint64_t)ts.tv_sec);
}

uint32_t syncookie_isn(const uint8_t key[SYNCOOKIE_KEY_BYTES], const struct ip_addr *src, const struct ip_addr *dst,
                       uint16_t sport, uint16_t dport, uint32_t coarse_time)
{
    uint8_t msg[16 + 16 + 2 + 2 + 4];
    memcpy(msg, src->bytes, 16);
    memcpy(msg + 16, dst->bytes, 16);
    msg[32] = (uint8_t)(sport >> 8);
    msg[33] = (uint8_t)sport;
    msg[34] = (uint8_t)(dport >> 8);
    msg[35] = (uint8_t)dport;
    for (int i = 0; i < 4; i++)
        msg[36 + i] = (uint8_t)(coarse_time >> (8 * i));
    return (uint32_t)siphash24(key, msg, sizeof msg);
}

bool syncookie_ack_valid(const uint8_t key[SYNCOOKIE_KEY_BYTES], const struct ip_addr *src, const struct ip_addr *dst,
                         uint16_t sport, uint16_t dport, uint32_t ack, uint32_t now_coarse)
{
    return ack - 1 == syncookie_isn(key, src, dst, sport, dport, now_coarse) ||
           ack - 1 == syncookie_isn(key, src, dst, sport, dport, now_coarse - 1);
}
