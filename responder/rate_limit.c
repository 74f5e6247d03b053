#include "rate_limit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "syncookie.h"

#define NS_PER_S 1000000000ULL
#define WAYS 4

void token_bucket_init(struct token_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
    b->rate = rate;
    b->burst = burst;
    b->nanotokens = burst * NS_PER_S;
    b->last_ns = now_ns;
}

bool token_bucket_ready(struct token_bucket *b, uint64_t now_ns)
{
    if (now_ns > b->last_ns) {
        unsigned __int128 add = (unsigned __int128)(now_ns - b->last_ns) * b->rate;
        unsigned __int128 cap = (unsigned __int128)b->burst * NS_PER_S;
        unsigned __int128 next = b->nanotokens + add;
        b->nanotokens = (uint64_t)(next > cap ? cap : next);
        b->last_ns = now_ns;
    }
    return b->nanotokens >= NS_PER_S;
}

void token_bucket_take(struct token_bucket *b)
{
    if (b->nanotokens >= NS_PER_S)
        b->nanotokens -= NS_PER_S;
}

int rate_limiter_init(struct rate_limiter *rl, uint64_t global_rate, uint64_t global_burst, uint64_t source_rate,
                      uint64_t source_burst, uint32_t source_buckets, const uint8_t hash_key[16], uint64_t now_ns)
{
    memset(rl, 0, sizeof *rl);
    token_bucket_init(&rl->global, global_rate, global_burst, now_ns);
    rl->source_rate = source_rate;
    rl->source_burst = source_burst;
    uint32_t sets = 1;
    while (sets * 2 * WAYS <= source_buckets)
        sets *= 2;
    rl->nsets = sets;
    rl->entries = calloc((size_t)sets * WAYS, sizeof *rl->entries);
    if (!rl->entries)
        return -1;
    memcpy(rl->hash_key, hash_key, 16);
    return 0;
}

void rate_limiter_free(struct rate_limiter *rl)
{
    free(rl->entries);
    rl->entries = NULL;
}

static void source_network(const struct ip_addr *src, uint8_t net[8])
{
    memset(net, 0, 8);
    if (src->family == AF_INET)
        memcpy(net, ip_addr_v4(src), 3); /* the /24 */
    else
        memcpy(net, src->bytes, 8);      /* the /64 */
}

static struct source_entry *source_lookup(struct rate_limiter *rl, const struct ip_addr *src, uint64_t now_ns)
{
    uint8_t net[9];
    source_network(src, net);
    net[8] = src->family;
    uint64_t h = siphash24(rl->hash_key, net, sizeof net);
    struct source_entry *set = rl->entries + (size_t)(h & (rl->nsets - 1)) * WAYS;
    struct source_entry *victim = &set[0];
    for (int i = 0; i < WAYS; i++) {
        struct source_entry *e = &set[i];
        if (e->family == src->family && memcmp(e->net, net, 8) == 0)
            return e;
        if (e->family == 0) {
            if (victim->family != 0)
                victim = e;
        } else if (victim->family != 0 && e->bucket.last_ns < victim->bucket.last_ns) {
            victim = e;
        }
    }
    memcpy(victim->net, net, 8);
    victim->family = src->family;
    token_bucket_init(&victim->bucket, rl->source_rate, rl->source_burst, now_ns);
    return victim;
}

enum rate_verdict rate_limiter_check(struct rate_limiter *rl, const struct ip_addr *src, uint64_t now_ns)
{
    if (!token_bucket_ready(&rl->global, now_ns))
        return RATE_LIMITED_GLOBAL;
    struct source_entry *e = source_lookup(rl, src, now_ns);
    if (!token_bucket_ready(&e->bucket, now_ns))
        return RATE_LIMITED_SOURCE;
    token_bucket_take(&rl->global);
    token_bucket_take(&e->bucket);
    return RATE_PASS;
}
