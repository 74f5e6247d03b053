/* Token buckets that keep the responder from ever being an amplifier: one global bucket and one per source network
 * (/24 for IPv4, /64 for IPv6) in a fixed-size table. Tokens are kept in nano-tokens so any rate refills exactly.
 * The table is 4-way set-associative and indexed by a keyed hash (an attacker cannot aim collisions); a new network
 * replaces the least recently seen entry of its set. Time is passed in (ns), so tests are deterministic. */
#ifndef LURKER_RESPONDER_RATE_LIMIT_H
#define LURKER_RESPONDER_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct token_bucket {
    uint64_t rate;             /* tokens per second */
    uint64_t burst;            /* tokens */
    uint64_t nanotokens;       /* tokens * 1e9 */
    uint64_t last_ns;
};

void token_bucket_init(struct token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns);
/* Refills for the time since the last call; true if a whole token is there (not taken). */
bool token_bucket_ready(struct token_bucket *b, uint64_t now_ns);
void token_bucket_take(struct token_bucket *b);

enum rate_verdict { RATE_PASS = 0, RATE_LIMITED_GLOBAL, RATE_LIMITED_SOURCE };

struct source_entry {
    uint8_t net[8];            /* /64 of IPv6, or the /24 of IPv4 padded */
    uint8_t family;            /* 0: empty */
    struct token_bucket bucket;
};

struct rate_limiter {
    struct token_bucket global;
    uint64_t source_rate, source_burst;
    uint32_t nsets;            /* power of two; 4 entries each */
    struct source_entry *entries;
    uint8_t hash_key[16];
};

/* source_buckets is rounded down to a multiple of 4 sets (power of two). Returns 0, or -1 if out of memory. */
int rate_limiter_init(struct rate_limiter *rl, uint64_t global_rate, uint64_t global_burst, uint64_t source_rate,
                      uint64_t source_burst, uint32_t source_buckets, const uint8_t hash_key[16], uint64_t now_ns);
void rate_limiter_free(struct rate_limiter *rl);

/* Decides for one SYN from src: when RATE_PASS, one token was taken from both buckets; otherwise none was. */
enum rate_verdict rate_limiter_check(struct rate_limiter *rl, const struct ip_addr *src, uint64_t now_ns);

#endif
