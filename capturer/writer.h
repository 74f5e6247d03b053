/* The writer thread: finished flows go from the capture loop to the spool without the loop ever waiting for the
 * disk. Durable writes cost about a millisecond per file on a busy disk; a capture loop that waited for them would
 * let the kernel ring overflow under a flood. The handoff is a mutex-protected list with a bound: when the disk is
 * this far behind (max_flows flows or memory_limit bytes waiting), a new finished flow is dropped and counted
 * (flows_dropped_backlog) instead of growing memory without limit. At shutdown the bound is lifted: every open flow
 * is written.
 *
 * With a crash journal, the thread tells it of every flow the spool is finished with, and publishes a batch only
 * once the journal holds every packet of it (journal_wait_written): a flow replayed after a crash is then the same
 * bytes as the pcap already published. */
#ifndef LURKER_CAPTURER_WRITER_H
#define LURKER_CAPTURER_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "flow_table.h"
#include "journal.h"
#include "shm.h"
#include "spool.h"

struct writer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    STAILQ_HEAD(, flow) waiting;       /* finished flows, oldest first (they left the table) */
    uint32_t backlog_flows;
    uint64_t backlog_bytes;
    uint32_t max_backlog_flows;
    uint64_t max_backlog_bytes;
    bool stopping;
    uint64_t dropped_backlog;          /* these three: the submitting thread's only */
    uint64_t drops_unlogged;
    uint64_t drop_log_ns;
    struct spool *spool;               /* the thread's alone once started */
    struct shm_segment *shm;           /* counters the thread publishes; NULL in tests */
    uint64_t published[CNT_COUNT];
    struct journal *journal;           /* NULL: none */
    uint64_t journal_target;           /* the thread's: journal bytes its current batch needs written */
    _Atomic bool finished;             /* the thread wrote its last flow and published the open batch */
};

/* Everything in w is initialised here. The thread inherits the caller's confinement (Landlock and seccomp apply to
 * the threads a confined thread creates). */
int writer_start(struct writer *w, struct spool *spool, struct shm_segment *shm, struct journal *journal,
                 uint32_t max_backlog_flows, uint64_t max_backlog_bytes);
/* Hands over a finished flow. Unless force, a full backlog drops it (freed, counted) and returns false. */
bool writer_submit(struct writer *w, struct flow *f, bool force);
/* Packet bytes waiting to be written. */
uint64_t writer_backlog_bytes(struct writer *w);
/* Writes everything still waiting, then ends the thread. */
void writer_stop(struct writer *w);

#endif
