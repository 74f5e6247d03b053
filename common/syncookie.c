/* The SYN-cookie ISN, on SipHash-2-4 (common/siphash.h: our own few lines instead of OpenSSL's EVP_MAC, because the
 * responder computes one per SYN and an EVP context per packet costs more than the whole hash). */
#include "syncookie.h"

#include <string.h>
#include <time.h>

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
    uint32_t isn;
    return syncookie_ack_isn(key, src, dst, sport, dport, ack, 0, now_coarse, &isn);
}

bool syncookie_ack_isn(const uint8_t key[SYNCOOKIE_KEY_BYTES], const struct ip_addr *src, const struct ip_addr *dst,
                       uint16_t sport, uint16_t dport, uint32_t ack, uint32_t extra, uint32_t now_coarse,
                       uint32_t *isn)
{
    for (uint32_t slot = 0; slot < 2; slot++) {
        uint32_t candidate = syncookie_isn(key, src, dst, sport, dport, now_coarse - slot);
        if (ack - 1 - candidate <= extra) {
            *isn = candidate;
            return true;
        }
    }
    return false;
}
