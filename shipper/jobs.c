/* Job table. See jobs.h. */
#include "jobs.h"

#include <stdlib.h>
#include <string.h>

#define JOBS_BUCKETS 65536u

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

int jobs_init(struct job_table *t)
{
    memset(t, 0, sizeof *t);
    t->nbuckets = JOBS_BUCKETS;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    TAILQ_INIT(&t->ready.jobs);
    TAILQ_INIT(&t->delayed.jobs);
    return t->buckets ? 0 : -1;
}

void jobs_free(struct job_table *t)
{
    for (size_t i = 0; i < t->nbuckets && t->buckets; i++) {
        struct job *j = t->buckets[i];
        while (j) {
            struct job *next = j->hash_next;
            free(j);
            j = next;
        }
    }
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

struct job *jobs_find(struct job_table *t, const char *name)
{
    for (struct job *j = t->buckets[hash_name(name) % t->nbuckets]; j; j = j->hash_next)
        if (strcmp(j->name, name) == 0)
            return j;
    return NULL;
}

static void list_push(struct job_list *l, struct job *j)
{
    TAILQ_INSERT_TAIL(&l->jobs, j, place_link);
    l->count++;
}

static void list_unlink(struct job_list *l, struct job *j)
{
    TAILQ_REMOVE(&l->jobs, j, place_link);
    l->count--;
}

static struct job_list *list_of(struct job_table *t, struct job *j)
{
    return j->place == JOB_READY ? &t->ready : j->place == JOB_DELAYED ? &t->delayed : NULL;
}

struct job *jobs_add(struct job_table *t, const char *name, bool parked)
{
    if (strlen(name) >= QUEUE_NAME_MAX || t->count >= JOBS_MAX || jobs_find(t, name))
        return NULL;
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    memcpy(j->name, name, strlen(name) + 1);
    j->parked = parked;
    size_t b = hash_name(name) % t->nbuckets;
    j->hash_next = t->buckets[b];
    t->buckets[b] = j;
    t->count++;
    j->place = JOB_READY;
    list_push(&t->ready, j);
    return j;
}

void jobs_remove(struct job_table *t, struct job *j)
{
    struct job_list *l = list_of(t, j);
    if (l)
        list_unlink(l, j);
    struct job **pp = &t->buckets[hash_name(j->name) % t->nbuckets];
    while (*pp && *pp != j)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = j->hash_next;
    t->count--;
    free(j);
}

struct job *jobs_take_ready(struct job_table *t)
{
    struct job *j = TAILQ_FIRST(&t->ready.jobs);
    if (!j)
        return NULL;
    list_unlink(&t->ready, j);
    j->place = JOB_IN_FLIGHT;
    return j;
}

void jobs_delay(struct job_table *t, struct job *j, uint64_t until_ns)
{
    struct job_list *l = list_of(t, j);
    if (l)
        list_unlink(l, j);
    j->place = JOB_DELAYED;
    j->next_try_ns = until_ns;
    list_push(&t->delayed, j);
}

uint64_t jobs_promote_due(struct job_table *t, uint64_t now_ns)
{
    uint64_t earliest = 0;
    struct job *j = TAILQ_FIRST(&t->delayed.jobs);
    while (j) {
        struct job *next = TAILQ_NEXT(j, place_link);
        if (j->next_try_ns <= now_ns) {
            list_unlink(&t->delayed, j);
            j->place = JOB_READY;
            list_push(&t->ready, j);
        } else if (!earliest || j->next_try_ns < earliest) {
            earliest = j->next_try_ns;
        }
        j = next;
    }
    return earliest;
}
