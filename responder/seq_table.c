#include "seq_table.h"

#include <stdlib.h>
#include <string.h>

#include "siphash.h"

int seq_table_init(struct seq_table *t, uint32_t entries, const uint8_t hash_key[16])
{
    memset(t, 0, sizeof *t);
    uint32_t sets = entries / SEQ_TABLE_WAYS;
    t->nsets = 1;
    while (t->nsets * 2 <= sets)
        t->nsets *= 2;
    t->entries = calloc((size_t)t->nsets * SEQ_TABLE_WAYS, sizeof *t->entries);
    if (!t->entries)
        return -1;
    memcpy(t->hash_key, hash_key, 16);
    return 0;
}

void seq_table_free(struct seq_table *t)
{
    free(t->entries);
    t->entries = NULL;
}

static struct seq_entry *set_of(const struct seq_table *t, const struct seq_flow *f)
{
    uint8_t msg[36];
    memcpy(msg, f->src, 16);
    memcpy(msg + 16, f->dst, 16);
    memcpy(msg + 32, &f->sport, 2);
    memcpy(msg + 34, &f->dport, 2);
    uint64_t h = siphash13(t->hash_key, msg, sizeof msg);
    return &t->entries[(size_t)(h & (t->nsets - 1)) * SEQ_TABLE_WAYS];
}

static bool same_flow(const struct seq_flow *a, const struct seq_flow *b)
{
    return a->sport == b->sport && a->dport == b->dport && memcmp(a->src, b->src, 16) == 0 &&
           memcmp(a->dst, b->dst, 16) == 0;
}

struct seq_entry *seq_table_find(struct seq_table *t, const struct seq_flow *f)
{
    struct seq_entry *set = set_of(t, f);
    for (int i = 0; i < SEQ_TABLE_WAYS; i++)
        if (set[i].last_used && same_flow(&set[i].flow, f)) {
            set[i].last_used = ++t->clock;
            return &set[i];
        }
    return NULL;
}

struct seq_entry *seq_table_add(struct seq_table *t, const struct seq_flow *f, bool *evicted)
{
    struct seq_entry *set = set_of(t, f), *victim = &set[0];
    for (int i = 0; i < SEQ_TABLE_WAYS; i++) {
        if (set[i].last_used == 0) {
            victim = &set[i];
            break;
        }
        if (set[i].last_used < victim->last_used)
            victim = &set[i];
    }
    *evicted = victim->last_used != 0;
    memset(victim, 0, sizeof *victim);
    victim->flow = *f;
    victim->last_used = ++t->clock;
    return victim;
}

void seq_table_forget(struct seq_table *t, struct seq_entry *e)
{
    (void)t;
    memset(e, 0, sizeof *e);
}

enum seq_verdict seq_accept(uint32_t *next, uint32_t seq, uint32_t len, uint32_t window)
{
    int32_t start = (int32_t)(seq - *next); /* > 0: starts past what arrived */
    if (start > 0)
        return (uint32_t)start > window ? SEQ_OUT_OF_WINDOW : SEQ_AHEAD;
    if ((uint32_t)-(int64_t)start > window)
        return SEQ_OUT_OF_WINDOW;
    int32_t end = (int32_t)(seq + len - *next);
    if (end > 0) {
        *next = seq + len;
        return SEQ_IN_ORDER;
    }
    return start == 0 && len == 0 ? SEQ_IN_ORDER : SEQ_OLD;
}
