/* The shipper's work list: one job per spool file it knows of, found by name in a hash table, and kept in one of
 * three places: the ready FIFO, the delayed list (waiting out a backoff) or in flight. The spool directory stays
 * the source of truth; this table is only what the running process has learned of it, rebuilt by a scan. */
#ifndef LURKER_SHIPPER_JOBS_H
#define LURKER_SHIPPER_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "flowid.h"
#include "queue.h"

#define JOBS_MAX (4u * 1024 * 1024) /* far above what a 1 TiB spool quota of small pcaps holds */

enum job_place { JOB_READY, JOB_DELAYED, JOB_IN_FLIGHT };

struct job {
    char name[QUEUE_NAME_MAX];
    bool parked;             /* the file lives in spool/failed/ */
    struct spool_name meta;
    bool have_meta;          /* from a queue record; otherwise parsed from the name when shipped */
    uint32_t attempts;       /* transient failures so far */
    uint64_t next_try_ns;    /* monotonic, for JOB_DELAYED */
    int64_t mtime;           /* file's modification time (unix seconds), for the oldest_age gauge */
    enum job_place place;
    struct job *hash_next;
    TAILQ_ENTRY(job) place_link; /* within the ready or delayed list */
};

struct job_list {
    TAILQ_HEAD(job_queue, job) jobs; /* oldest first */
    size_t count;
};

struct job_table {
    struct job **buckets;
    size_t nbuckets;
    size_t count;            /* all jobs, whatever their place */
    struct job_list ready, delayed;
};

int jobs_init(struct job_table *t);
void jobs_free(struct job_table *t);
struct job *jobs_find(struct job_table *t, const char *name);
/* Adds a job in the ready list; NULL if present already, at JOBS_MAX, or out of memory. */
struct job *jobs_add(struct job_table *t, const char *name, bool parked);
/* Removes and frees (the job must not be in flight, or the caller has taken it out of flight). */
void jobs_remove(struct job_table *t, struct job *j);

/* Moves between places. */
struct job *jobs_take_ready(struct job_table *t);         /* head of ready -> in flight */
void jobs_delay(struct job_table *t, struct job *j, uint64_t until_ns);
/* Moves delayed jobs whose time has come to the ready list; returns the earliest remaining wake time (or 0). */
uint64_t jobs_promote_due(struct job_table *t, uint64_t now_ns);

#endif
