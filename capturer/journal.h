/* The crash journal: every packet a journaled flow keeps is also appended to spool/.journal/, so a capturer killed
 * with flows open (kill -9, the OOM killer, a crash) loses none of them: the next start replays the journal
 * (recover.h) and takes back every flow that has no FLOW_DONE record, into its flow table (continued after the
 * restart, journaled again) or, when already idle for flow_timeout, written at once.
 *
 * Cost per packet: a bounds check and a memcpy into a 1 MiB buffer. The buffer is written with one write() when
 * full, and by the main loop when it holds data and JOURNAL_FLUSH_US has passed since the last write. No fsync: the
 * page cache outlives a killed process; a machine crash can lose the journal's last moments (and the open flows with
 * them, as before the journal existed).
 *
 * Segments (<start_us>-<pid>.jrnl) rotate at a size or an age. A flow is anchored at the segment of its first
 * packet; a segment older than the current one is deleted once no open flow is anchored at it or at an older one.
 * "Open" lasts until the flow's pcap is durable or the flow is counted as dropped: then a FLOW_DONE record is
 * appended. The writer thread reports that through journal_done_async(); the main loop turns it into records.
 *
 * Bounded: at journal_max bytes (segments plus buffer), or half the spool filesystem's free space when that is
 * less (every journaled byte becomes a pcap byte later: the journal must never be why a pcap cannot be written), new
 * flows are not journaled and journaled flows stop being
 * journaled (each counted once in `dropped`, and logged); they are captured and written as before, only a crash
 * would lose them. A write error (disk full) closes the segment, is logged, and journaling resumes in a new segment
 * a second later.
 *
 * Threads: everything here is the main thread's, except journal_done_async() and journal_wait_written(), which the
 * writer thread calls. */
#ifndef LURKER_CAPTURER_JOURNAL_H
#define LURKER_CAPTURER_JOURNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_table.h"
#include "journal_format.h"
#include "queue.h"

#define JOURNAL_DIR ".journal"
#define JOURNAL_BUFFER (1u << 20)
#define JOURNAL_FLUSH_US 10000u        /* the most a kill -9 takes from the journal: 10 ms of packets */
#define JOURNAL_SEGMENT_MAX (64u << 20)
#define JOURNAL_SEGMENT_AGE_US 60000000u
#define JOURNAL_MAX_SEGMENTS 4096u     /* past this, the current segment stops rotating (journal_max still holds) */

struct journal_segment {
    uint32_t seq;
    uint64_t start_mono_us;
    uint64_t bytes;           /* written to the file */
    uint64_t anchored;        /* open flows whose first packet is here */
    char name[48];
};

struct journal_done {
    uint64_t serial;
    uint32_t seg;
    char name[QUEUE_NAME_MAX];
};

struct journal_stats {
    uint64_t dropped;         /* flows not journaled, or not completely: journal_max reached or journal unwritable */
    uint64_t write_errors;
    uint64_t segments_deleted;
};

struct journal {
    bool enabled;
    int dirfd;                 /* spool/.journal */
    int fd;                    /* the current segment, -1 when none is open */
    struct jseg_header tmpl;   /* dlt, linktype, snaplen, pid, run id of this process */
    uint64_t max_bytes, segment_max;
    uint64_t limit;            /* journal_max, or half the free disk if that is less (learned at each write) */
    uint64_t limit_mono_us;
    uint8_t *buf;
    size_t buf_len;
    uint64_t last_flush_mono_us;
    uint64_t retry_mono_us;    /* after a write error: when to open a new segment */
    struct journal_segment *segs;
    size_t nsegs, segs_cap;
    uint32_t next_seq;
    uint64_t next_serial;
    uint64_t bytes;            /* segments on disk plus the buffer */
    uint64_t dropped_unlogged, drop_log_mono_us;
    _Atomic uint64_t appended; /* bytes appended since start, and of those written: the writer's barrier */
    _Atomic uint64_t written;
    _Atomic uint64_t done_queued, done_drained; /* FLOW_DONE reports queued by the writer, appended by the main loop */
    _Atomic bool hold_deletes; /* a batch commit in progress: no segment is deleted (spool_batch.h) */
    pthread_mutex_t done_lock; /* guards done[] */
    struct journal_done *done;
    size_t ndone, done_cap;
    struct journal_stats stats;
};

/* Creates spool/.journal if needed and opens it. No segment yet (recovery reads the directory first).
 * enabled false: journal_start and the appends do nothing, but the directory is still there for recovery. */
int journal_open(struct journal *j, int spool_dirfd, bool enabled, uint64_t max_bytes, int dlt, uint32_t linktype,
                 uint32_t snaplen, char *err, size_t errlen);
/* Opens this process's first segment. Call after recovery. */
int journal_start(struct journal *j, uint64_t now_mono_us);
/* Flushes, turns the last FLOW_DONE reports into records, deletes every segment no open flow needs (at a clean stop:
 * all of them), closes. */
void journal_close(struct journal *j);

/* A packet flow f kept (caplen bytes of data). Its first packet decides whether the flow is journaled. */
void journal_packet(struct journal *j, struct flow *f, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                    uint32_t origlen);
/* The flow is accounted for (pcap durable, or counted as dropped). Main thread. name may be NULL. */
void journal_flow_done(struct journal *j, uint64_t serial, uint32_t seg, const char *name);
/* Same, from the writer thread: queued for the main loop's next journal_tick. false: the queue is full (DONE_MAX),
 * the flow stays anchored. */
bool journal_done_async(struct journal *j, uint64_t serial, uint32_t seg, const char *name);
/* Writer thread: waits (up to timeout_ms) until every report queued so far is appended and written. */
bool journal_wait_done_written(struct journal *j, unsigned timeout_ms);
/* Writer thread, around a batch commit: while held, no segment is deleted. */
void journal_hold_deletes(struct journal *j, bool hold);

/* Main loop, every turn: FLOW_DONE records, the periodic write, rotation, deletion of segments no longer needed. */
void journal_tick(struct journal *j, uint64_t now_mono_us);
/* Monotonic time at which journal_tick must run next, or UINT64_MAX. */
uint64_t journal_next_deadline(const struct journal *j);
/* Writes the buffer now. */
void journal_flush(struct journal *j, uint64_t now_mono_us);

/* Bytes appended so far; journal_wait_written() waits (up to timeout_ms) until that many are written, so a pcap is
 * never published before the journal holds every packet of it (a flow recovered twice is then the same bytes). */
uint64_t journal_appended(const struct journal *j);
void journal_wait_written(const struct journal *j, uint64_t pos, unsigned timeout_ms);

#endif
