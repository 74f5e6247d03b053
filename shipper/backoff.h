/* Retry delays: exponential backoff with "equal jitter" (half fixed, half random), so a fleet of sensors that lost
 * S3 at the same moment does not come back in lockstep. */
#ifndef LURKER_SHIPPER_BACKOFF_H
#define LURKER_SHIPPER_BACKOFF_H

#include <stdint.h>

#define BACKOFF_BASE_MS 500u
#define BACKOFF_CAP_MS 60000u

/* Delay before retry number `attempt` (1 = first retry): d = min(cap, base * 2^(attempt-1)), result in [d/2, d].
 * `random` is any 64-bit random value. */
uint64_t backoff_delay_ms(uint32_t attempt, uint64_t random);

#endif
