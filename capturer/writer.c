#include "writer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define RESCAN_NS 5000000000ull /* learn what the shipper deleted from the spool */
#define DROP_LOG_NS 10000000000ull
#define COMMIT_WAIT_MS 5000u /* the main loop appends reports at least every second */

static void publish(struct writer *w, enum lurker_counter c, uint64_t value)
{
    counter_add(w->shm, c, value - w->published[c]);
    w->published[c] = value;
}

static void publish_counters(struct writer *w)
{
    if (w->shm == NULL)
        return;
    const struct spool_stats *s = &w->spool->stats;
    publish(w, CNT_flows_written, s->written);
    publish(w, CNT_flows_dropped_quota, s->dropped_quota);
    publish(w, CNT_flows_dropped_write_error, s->dropped_write_error);
    publish(w, CNT_queue_full, s->queue_full);
    publish(w, CNT_batches_written, w->spool->batch.stats.batches_written);
    publish(w, CNT_flows_batched, w->spool->batch.stats.flows_batched);
    counter_set(w->shm, CNT_flows_batch_open, w->spool->batch.nmembers);
    counter_set(w->shm, CNT_spool_bytes, w->spool->bytes);
}

/* Takes up to SPOOL_BATCH waiting flows, waiting up to a second for the first. Returns how many. */
static size_t take_batch(struct writer *w, struct flow **batch, bool *stop)
{
    pthread_mutex_lock(&w->lock);
    if (STAILQ_EMPTY(&w->waiting) && !w->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&w->wake, &w->lock, &until);
    }
    size_t n = 0;
    struct flow *f;
    while ((f = STAILQ_FIRST(&w->waiting)) != NULL && n < SPOOL_BATCH) {
        STAILQ_REMOVE_HEAD(&w->waiting, link.queue);
        w->backlog_flows--;
        w->backlog_bytes -= f->records_cap;
        batch[n++] = f;
    }
    *stop = w->stopping && STAILQ_EMPTY(&w->waiting);
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* The main loop writes the journal at least every JOURNAL_FLUSH_US; a second covers a loop stalled by the disk. */
static void journal_barrier(void *arg)
{
    struct writer *w = arg;
    journal_wait_written(w->journal, w->journal_target, 1000);
}

static void journal_done(void *arg, uint64_t serial, uint32_t seg, const char *name)
{
    struct writer *w = arg;
    journal_done_async(w->journal, serial, seg, name);
}

/* A durable batch before its rename: every member's FLOW_DONE (naming the batch) appended and written, with segment
 * deletion held until the rename is durable (batch_published). A full report queue is waited out, not skipped. */
static void batch_commit(void *arg, const struct batch_member *members, uint32_t n, const char *name)
{
    struct writer *w = arg;
    journal_hold_deletes(w->journal, true);
    for (uint32_t i = 0; i < n; i++) {
        if (journal_done_async(w->journal, members[i].serial, members[i].seg, name))
            continue;
        journal_wait_done_written(w->journal, COMMIT_WAIT_MS);
        journal_done_async(w->journal, members[i].serial, members[i].seg, name);
    }
    if (!journal_wait_done_written(w->journal, COMMIT_WAIT_MS))
        log_warn("event=batch_commit_slow file=%s (the journal did not take the FLOW_DONEs in %u ms; a crash now "
                 "would write its flows again)", name, COMMIT_WAIT_MS);
}

static void batch_published(void *arg)
{
    struct writer *w = arg;
    journal_hold_deletes(w->journal, false);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    uint64_t next_rescan = monotonic_ns() + RESCAN_NS;
    for (;;) {
        struct flow *batch[SPOOL_BATCH];
        bool stop;
        size_t n = take_batch(w, batch, &stop);
        /* every packet of these flows was appended before they were handed over */
        if (w->journal)
            w->journal_target = journal_appended(w->journal);
        for (size_t i = 0; i < n; i++)
            spool_add(w->spool, batch[i]);
        spool_flush(w->spool);
        if (stop)
            spool_batch_close(w->spool); /* shutdown: the open batch is published before the journal empties */
        else
            spool_batch_tick(w->spool, monotonic_ns() / 1000u);
        if (monotonic_ns() >= next_rescan) {
            spool_rescan(w->spool);
            next_rescan = monotonic_ns() + RESCAN_NS;
        }
        publish_counters(w);
        if (stop) {
            atomic_store_explicit(&w->finished, true, memory_order_release);
            return NULL;
        }
    }
}

int writer_start(struct writer *w, struct spool *spool, struct shm_segment *shm, struct journal *journal,
                 uint32_t max_backlog_flows, uint64_t max_backlog_bytes)
{
    memset(w, 0, sizeof *w);
    STAILQ_INIT(&w->waiting);
    w->spool = spool;
    w->shm = shm;
    w->journal = journal;
    if (journal) {
        spool->done = journal_done;
        spool->done_arg = w;
        spool->before_publish = journal_barrier;
        spool->publish_arg = w;
        spool->batch_commit = batch_commit;
        spool->batch_published = batch_published;
        spool->commit_arg = w;
    }
    w->max_backlog_flows = max_backlog_flows;
    w->max_backlog_bytes = max_backlog_bytes;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    return pthread_create(&w->thread, NULL, writer_main, w) == 0 ? 0 : -1;
}

bool writer_submit(struct writer *w, struct flow *f, bool force)
{
    pthread_mutex_lock(&w->lock);
    bool full = w->backlog_flows >= w->max_backlog_flows || w->backlog_bytes + f->records_cap > w->max_backlog_bytes;
    if (full && !force) {
        uint32_t waiting = w->backlog_flows;
        pthread_mutex_unlock(&w->lock);
        w->dropped_backlog++;
        w->drops_unlogged++;
        uint64_t now = monotonic_ns();
        if (w->drop_log_ns == 0 || now - w->drop_log_ns >= DROP_LOG_NS) {
            log_warn("event=flow_dropped reason=writer_backlog waiting=%u dropped_since_last_log=%llu (flows finish "
                     "faster than the spool disk takes them)",
                     waiting, (unsigned long long)w->drops_unlogged);
            w->drop_log_ns = now;
            w->drops_unlogged = 0;
        }
        if (w->journal && f->journal_serial) { /* counted: accounted for, so the journal may forget it */
            char name[QUEUE_NAME_MAX];
            journal_flow_done(w->journal, f->journal_serial, f->journal_seg,
                              spool_flow_name(f, name, sizeof name) == 0 ? name : NULL);
        }
        flow_table_release(f);
        return false;
    }
    STAILQ_INSERT_TAIL(&w->waiting, f, link.queue);
    w->backlog_flows++;
    w->backlog_bytes += f->records_cap;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return true;
}

uint64_t writer_backlog_bytes(struct writer *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t b = w->backlog_bytes;
    pthread_mutex_unlock(&w->lock);
    return b;
}

void writer_stop(struct writer *w)
{
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    /* the last batch's commit waits for the main loop to journal its FLOW_DONEs: this is the main loop now */
    while (w->journal && !atomic_load_explicit(&w->finished, memory_order_acquire)) {
        journal_tick(w->journal, monotonic_ns() / 1000u);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    pthread_join(w->thread, NULL);
    publish_counters(w);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
}
