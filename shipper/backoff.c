/* Exponential backoff with jitter. See backoff.h. */
#include "backoff.h"

uint64_t backoff_delay_ms(uint32_t attempt, uint64_t random)
{
    uint64_t d = BACKOFF_BASE_MS;
    for (uint32_t i = 1; i < attempt && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    uint64_t half = d / 2;
    return half + random % (d - half + 1);
}
