/* Finished flows into the spool directory, one classic pcap each, never visible half-written:
 * NAME.pcap.tmp is written, the batch is made durable with one syncfs (fsync per file as the fallback), then each
 * file is renamed to NAME.pcap (never over an existing one) and announced in the shared-memory queue.
 * Batching matters: one fsync per flow caps the capturer at ~2,500 flows/s on this machine's disk.
 *
 * The spool has a quota. Its use is learned by scanning the directory (at start, then periodically, because the
 * shipper deletes what it has stored) plus what this process writes in between. A flow that would go over the
 * quota is not written and counted in dropped_quota, with a log line; a write error likewise in dropped_write_error,
 * its .tmp removed.
 *
 * Flows without client data go into batches instead when spool_batch_configure turned them on (spool_batch.h).
 *
 * Hidden entries (names starting with '.', e.g. the crash journal's .journal/) are not the spool's: never counted in
 * its use, never touched. Two hooks serve the journal: `done` is told of every flow the spool is finished with
 * (written, or counted as dropped), `before_publish` runs once a batch is durable and before it is renamed.
 * While `recovering`, a flow whose NAME.pcap already holds exactly its bytes (written by the dead process just
 * before it died) is not written again. */
#ifndef LURKER_CAPTURER_SPOOL_H
#define LURKER_CAPTURER_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_table.h"
#include "queue.h"
#include "spool_batch.h"

#define SPOOL_BATCH 256

struct spool_stats {
    uint64_t written, dropped_quota, dropped_write_error, queue_full, stale_tmp_removed;
    uint64_t already_present; /* recovering: the same pcap was already there */
};

/* serial, seg: the flow's journal serial (0: not journaled) and segment; name: its file, or its batch's. */
typedef void (*spool_done_fn)(void *arg, uint64_t serial, uint32_t seg, const char *name);

struct spool {
    int dirfd;
    char path[256];
    uint32_t linktype, snaplen;
    uint64_t quota;
    uint64_t bytes;                 /* spool use as last scanned plus what was written since, in disk cost: whole
                                       4 KiB blocks and an inode's worth per file (spool.c), so quota bounds both */
    struct lurker_queue *queue;     /* NULL: do not announce (tests) */
    struct flow *pending[SPOOL_BATCH];
    size_t npending;
    struct spool_stats stats;
    uint64_t quota_drops_unlogged;  /* drops since the last quota log line */
    uint64_t quota_log_mono_us;
    bool recovering;
    bool syncfs_failure_logged;
    spool_done_fn done;             /* NULL: nobody to tell */
    void *done_arg;
    void (*before_publish)(void *arg);
    void *publish_arg;
    /* A durable batch is about to be renamed into place: report every member done now, journaled and written
     * (spool_batch.h). NULL: members are reported through `done` after the rename. */
    void (*batch_commit)(void *arg, const struct batch_member *members, uint32_t n, const char *name);
    void (*batch_published)(void *arg); /* after the rename (or its failure) is over */
    void *commit_arg;
    struct spool_batch batch;       /* flows without client data, when batches are on (spool_batch.h) */
    struct flow_chain released;     /* flows written or counted, handed back to their pool once per spool_flush */
};

/* Opens the directory (it must exist and be writable). Removes NAME.pcap[.N].tmp left by a killed run (a batch's
 * .tmp stays until spool_remove_stale_batches: the journal's recovery needs to see it), then scans. */
int spool_open(struct spool *s, const char *dir, uint64_t quota, uint32_t linktype, uint32_t snaplen,
               struct lurker_queue *queue, char *err, size_t errlen);
void spool_close(struct spool *s);
/* Removes the .tmp of batches a killed run left unpublished; call after the journal's recovery. */
void spool_remove_stale_batches(struct spool *s);

/* Recomputes the spool's use from the directory (regular files, and those one level down, e.g. failed/; hidden
 * entries excluded). */
int spool_rescan(struct spool *s);

/* Takes ownership of a finished flow; it is written at the next spool_flush (or now, when the batch is full), into
 * a file of its own or, if spool_batch_takes() it, into the open batch. */
void spool_add(struct spool *s, struct flow *f);
void spool_flush(struct spool *s);

/* A flow refused for the quota: counted, and logged at most every 10 s. */
void spool_note_quota_drop(struct spool *s, const char *name);

/* A flow's identity as its spool name carries it (common/flowid.h), without a duplicate suffix; and that name. */
void spool_flow_key(const struct flow *f, struct spool_name *n);
int spool_flow_name(const struct flow *f, char *out, size_t outlen);

#endif
