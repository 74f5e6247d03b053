#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "shm.h"

#define RETRY_US 1000000u
#define LIMIT_REFRESH_US 1000000u
#define DROP_LOG_US 10000000u
#define DONE_MAX 65536u /* FLOW_DONE reports waiting for the main loop (~10 MB); past it a flow stays anchored */

int journal_open(struct journal *j, int spool_dirfd, bool enabled, uint64_t max_bytes, int dlt, uint32_t linktype,
                 uint32_t snaplen, char *err, size_t errlen)
{
    memset(j, 0, sizeof *j);
    j->fd = j->dirfd = -1;
    j->enabled = enabled;
    j->max_bytes = max_bytes;
    /* deletion frees whole segments: keep several per journal_max so a full journal can drain */
    j->segment_max = max_bytes / 8 < JOURNAL_SEGMENT_MAX ? max_bytes / 8 : JOURNAL_SEGMENT_MAX;
    if (j->segment_max < 65536)
        j->segment_max = 65536;
    j->tmpl.version = JSEG_VERSION;
    j->tmpl.dlt = dlt;
    j->tmpl.linktype = linktype;
    j->tmpl.snaplen = snaplen;
    j->tmpl.pid = (uint32_t)getpid();
    if (getrandom(&j->tmpl.run_id, sizeof j->tmpl.run_id, 0) != (ssize_t)sizeof j->tmpl.run_id)
        j->tmpl.run_id = realtime_ns() ^ ((uint64_t)getpid() << 32);
    pthread_mutex_init(&j->done_lock, NULL);
    if (mkdirat(spool_dirfd, JOURNAL_DIR, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "journal directory %s: %s", JOURNAL_DIR, strerror(errno));
        return -1;
    }
    j->dirfd = openat(spool_dirfd, JOURNAL_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (j->dirfd < 0) {
        snprintf(err, errlen, "journal directory %s: %s", JOURNAL_DIR, strerror(errno));
        return -1;
    }
    if (enabled && (j->buf = malloc(JOURNAL_BUFFER)) == NULL) {
        snprintf(err, errlen, "journal buffer: out of memory");
        close(j->dirfd);
        j->dirfd = -1;
        return -1;
    }
    return 0;
}

static struct journal_segment *current(struct journal *j)
{
    return j->nsegs ? &j->segs[j->nsegs - 1] : NULL;
}

static struct journal_segment *segment_of(struct journal *j, uint32_t seq)
{
    if (j->nsegs == 0)
        return NULL;
    uint32_t idx = seq - j->segs[0].seq;
    return idx < j->nsegs ? &j->segs[idx] : NULL;
}

/* Writes all of buf to the current segment. On failure the segment is closed (a cut record would end its replay,
 * so later records go to a new one) and the bytes are lost to the journal, with a log line. */
static void write_out(struct journal *j, const uint8_t *buf, size_t len, uint64_t now)
{
    struct journal_segment *seg = current(j);
    size_t off = 0;
    while (off < len && j->fd >= 0) {
        ssize_t n = write(j->fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            j->stats.write_errors++;
            log_error("event=journal_write_error segment=%s error=\"%s\" lost_bytes=%zu (flows open now may not "
                      "survive a crash)", seg ? seg->name : "?", strerror(e), len - off);
            close(j->fd);
            j->fd = -1;
            j->retry_mono_us = now + RETRY_US;
            break;
        }
        off += (size_t)n;
        if (seg)
            seg->bytes += (uint64_t)n;
    }
    /* what could not be written is not on disk: the journal's size is what the files hold */
    j->bytes -= len - off;
}

/* The journal may hold journal_max, but never more than half the filesystem's free space: every byte it holds
 * becomes a pcap byte when its flow finishes, so taking more would make the journal the reason a pcap cannot be
 * written. */
static void update_limit(struct journal *j)
{
    struct statvfs vfs;
    j->limit = j->max_bytes;
    if (fstatvfs(j->dirfd, &vfs) == 0) {
        uint64_t room = j->bytes + (uint64_t)vfs.f_bavail * vfs.f_frsize / 2;
        if (room < j->limit)
            j->limit = room;
    }
}

void journal_flush(struct journal *j, uint64_t now)
{
    if (j->buf_len > 0)
        write_out(j, j->buf, j->buf_len, now);
    j->buf_len = 0;
    update_limit(j);
    j->last_flush_mono_us = now;
    /* written or lost: either way nobody may wait for these bytes any longer */
    atomic_store_explicit(&j->written, atomic_load_explicit(&j->appended, memory_order_relaxed),
                          memory_order_release);
}

static int new_segment(struct journal *j, uint64_t now)
{
    if (j->nsegs == j->segs_cap) {
        if (j->segs_cap >= JOURNAL_MAX_SEGMENTS)
            return -1;
        size_t cap = j->segs_cap ? j->segs_cap * 2 : 16;
        struct journal_segment *grown = realloc(j->segs, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        j->segs = grown;
        j->segs_cap = cap;
    }
    struct jseg_header h = j->tmpl;
    h.seq = j->next_seq;
    h.start_us = realtime_ns() / 1000u;
    struct journal_segment *seg = &j->segs[j->nsegs];
    memset(seg, 0, sizeof *seg);
    snprintf(seg->name, sizeof seg->name, "%llu-%u.jrnl", (unsigned long long)h.start_us, h.pid);
    int fd = openat(j->dirfd, seg->name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) {
        j->stats.write_errors++;
        log_error("event=journal_write_error op=create segment=%s error=\"%s\"", seg->name, strerror(errno));
        j->retry_mono_us = now + RETRY_US;
        return -1;
    }
    seg->seq = j->next_seq++;
    seg->start_mono_us = now;
    j->nsegs++;
    j->fd = fd;
    uint8_t hdr[JSEG_HEADER_LEN];
    jseg_header_encode(hdr, &h);
    j->bytes += sizeof hdr;
    write_out(j, hdr, sizeof hdr, now);
    return j->fd >= 0 ? 0 : -1;
}

int journal_start(struct journal *j, uint64_t now)
{
    if (!j->enabled)
        return 0;
    j->last_flush_mono_us = now;
    update_limit(j);
    return new_segment(j, now);
}

/* Segment files no open flow needs: every one before the first that still anchors a flow, never the current. */
static void delete_unneeded(struct journal *j, bool include_current)
{
    if (atomic_load_explicit(&j->hold_deletes, memory_order_acquire))
        return; /* a batch is between its members' FLOW_DONEs and its rename: their packets must stay */
    size_t n = 0;
    while (n < j->nsegs && j->segs[n].anchored == 0 && (include_current || n + 1 < j->nsegs))
        n++;
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (include_current && i + 1 == j->nsegs && j->fd >= 0) {
            close(j->fd);
            j->fd = -1;
        }
        if (unlinkat(j->dirfd, j->segs[i].name, 0) == 0 || errno == ENOENT)
            j->stats.segments_deleted++;
        j->bytes -= j->segs[i].bytes;
    }
    memmove(j->segs, j->segs + n, (j->nsegs - n) * sizeof *j->segs);
    j->nsegs -= n;
}

static void note_dropped(struct journal *j, uint64_t now)
{
    j->stats.dropped++;
    j->dropped_unlogged++;
    if (j->drop_log_mono_us == 0 || now - j->drop_log_mono_us >= DROP_LOG_US) {
        log_warn("event=journal_full journal_bytes=%llu journal_limit=%llu journal_max=%llu flows_not_journaled=%llu "
                 "(they are captured as usual, but a crash of the capturer now would lose them)",
                 (unsigned long long)j->bytes, (unsigned long long)j->limit, (unsigned long long)j->max_bytes,
                 (unsigned long long)j->dropped_unlogged);
        j->drop_log_mono_us = now;
        j->dropped_unlogged = 0;
    }
}

/* Room for need more bytes in the buffer, writing it out first when full. */
static uint8_t *reserve(struct journal *j, size_t need)
{
    if (j->buf_len + need > JOURNAL_BUFFER)
        journal_flush(j, j->last_flush_mono_us);
    if (j->fd < 0 || need > JOURNAL_BUFFER)
        return NULL;
    uint8_t *p = j->buf + j->buf_len;
    j->buf_len += need;
    j->bytes += need;
    atomic_store_explicit(&j->appended, atomic_load_explicit(&j->appended, memory_order_relaxed) + need,
                          memory_order_relaxed);
    return p;
}

void journal_packet(struct journal *j, struct flow *f, uint64_t ts_us, const uint8_t *data, uint32_t caplen,
                    uint32_t origlen)
{
    if (!j->enabled)
        return;
    size_t need = JREC_HEADER_LEN + (size_t)caplen;
    bool fits = j->fd >= 0 && j->bytes + need <= j->limit && caplen <= JREC_MAX_CAPLEN && caplen <= origlen;
    if (f->packets == 1) { /* its first packet: anchored here, or never journaled */
        if (!fits) {
            note_dropped(j, j->last_flush_mono_us);
            return;
        }
        struct journal_segment *seg = current(j);
        f->journal_serial = ++j->next_serial;
        f->journal_seg = seg->seq;
        seg->anchored++;
        f->flags |= FLOW_JOURNALED;
    } else if (!(f->flags & FLOW_JOURNALED)) {
        return;
    } else if (!fits) {
        f->flags &= ~FLOW_JOURNALED; /* the rest of it is not journaled; it keeps its anchor until done */
        note_dropped(j, j->last_flush_mono_us);
        return;
    }
    uint8_t *p = reserve(j, need);
    if (p == NULL) {
        /* writing the full buffer failed and closed the segment: this flow's journal is incomplete from here on */
        f->flags &= ~FLOW_JOURNALED;
        note_dropped(j, j->last_flush_mono_us);
        return;
    }
    jrec_header_encode(p, JREC_PACKET, f->journal_serial, ts_us, caplen, origlen);
    memcpy(p + JREC_HEADER_LEN, data, caplen);
}

void journal_flow_done(struct journal *j, uint64_t serial, uint32_t seg_seq, const char *name)
{
    if (serial == 0)
        return;
    struct journal_segment *seg = segment_of(j, seg_seq);
    if (seg && seg->anchored > 0)
        seg->anchored--;
    if (!j->enabled || j->fd < 0)
        return;
    size_t n = name ? strnlen(name, JREC_MAX_NAME) : 0;
    if (n == 0) {
        name = "-";
        n = 1;
    }
    uint8_t *p = reserve(j, JREC_HEADER_LEN + n);
    if (p == NULL)
        return; /* without it a replay writes the flow once more, under the same name: harmless */
    jrec_header_encode(p, JREC_FLOW_DONE, serial, 0, (uint32_t)n, 0);
    memcpy(p + JREC_HEADER_LEN, name, n);
}

bool journal_done_async(struct journal *j, uint64_t serial, uint32_t seg, const char *name)
{
    if (serial == 0)
        return true;
    pthread_mutex_lock(&j->done_lock);
    if (j->ndone == j->done_cap) {
        size_t cap = j->done_cap ? j->done_cap * 2 : 256;
        struct journal_done *grown = cap <= DONE_MAX ? realloc(j->done, cap * sizeof *grown) : NULL;
        if (grown == NULL) {
            /* cannot queue it: the flow simply stays anchored (its segment is kept; a replay rewrites it under the
             * same name). Bounded disk, never a lost flow. */
            pthread_mutex_unlock(&j->done_lock);
            return false;
        }
        j->done = grown;
        j->done_cap = cap;
    }
    struct journal_done *d = &j->done[j->ndone++];
    d->serial = serial;
    d->seg = seg;
    snprintf(d->name, sizeof d->name, "%s", name ? name : "");
    atomic_fetch_add_explicit(&j->done_queued, 1, memory_order_release);
    pthread_mutex_unlock(&j->done_lock);
    return true;
}

bool journal_wait_done_written(struct journal *j, unsigned timeout_ms)
{
    uint64_t target = atomic_load_explicit(&j->done_queued, memory_order_acquire);
    unsigned waited = 0;
    for (; atomic_load_explicit(&j->done_drained, memory_order_acquire) < target; waited++) {
        if (waited >= timeout_ms)
            return false;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    uint64_t pos = journal_appended(j);
    journal_wait_written(j, pos, timeout_ms - waited);
    return atomic_load_explicit(&j->written, memory_order_acquire) >= pos;
}

void journal_hold_deletes(struct journal *j, bool hold)
{
    atomic_store_explicit(&j->hold_deletes, hold, memory_order_release);
}

static void drain_done(struct journal *j)
{
    struct journal_done *list;
    size_t n;
    pthread_mutex_lock(&j->done_lock);
    list = j->done;
    n = j->ndone;
    j->done = NULL;
    j->ndone = j->done_cap = 0;
    pthread_mutex_unlock(&j->done_lock);
    for (size_t i = 0; i < n; i++)
        journal_flow_done(j, list[i].serial, list[i].seg, list[i].name);
    atomic_fetch_add_explicit(&j->done_drained, n, memory_order_release);
    free(list);
}

void journal_tick(struct journal *j, uint64_t now)
{
    if (j->dirfd < 0)
        return;
    drain_done(j);
    if (!j->enabled)
        return;
    if (j->buf_len > 0 && now - j->last_flush_mono_us >= JOURNAL_FLUSH_US)
        journal_flush(j, now);
    else if (now - j->limit_mono_us >= LIMIT_REFRESH_US) { /* idle, or stopped at the limit: the disk may have room */
        update_limit(j);
        j->limit_mono_us = now;
    }
    struct journal_segment *cur = current(j);
    bool has_records = cur && cur->bytes + j->buf_len > JSEG_HEADER_LEN;
    if (j->fd < 0 && now >= j->retry_mono_us) {
        new_segment(j, now); /* (nothing is buffered while no segment is open: reserve() refuses) */
    } else if (cur && has_records && (cur->bytes >= j->segment_max || now - cur->start_mono_us >= JOURNAL_SEGMENT_AGE_US) &&
               j->nsegs < JOURNAL_MAX_SEGMENTS) {
        journal_flush(j, now);
        if (j->fd >= 0) {
            close(j->fd);
            j->fd = -1;
        }
        new_segment(j, now);
    }
    delete_unneeded(j, false);
}

uint64_t journal_next_deadline(const struct journal *j)
{
    uint64_t due = UINT64_MAX;
    if (j->enabled && j->buf_len > 0)
        due = j->last_flush_mono_us + JOURNAL_FLUSH_US;
    if (j->enabled && j->fd < 0 && j->retry_mono_us < due)
        due = j->retry_mono_us;
    return due;
}

uint64_t journal_appended(const struct journal *j)
{
    return atomic_load_explicit(&j->appended, memory_order_acquire);
}

void journal_wait_written(const struct journal *j, uint64_t pos, unsigned timeout_ms)
{
    for (unsigned waited = 0; waited < timeout_ms; waited++) {
        if (atomic_load_explicit(&j->written, memory_order_acquire) >= pos)
            return;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

void journal_close(struct journal *j)
{
    if (j->dirfd < 0)
        return;
    drain_done(j);
    if (j->enabled)
        journal_flush(j, j->last_flush_mono_us);
    delete_unneeded(j, true);
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    if (j->nsegs > 0)
        log_warn("event=journal_kept segments=%zu (flows still open at exit; the next start replays them)", j->nsegs);
    close(j->dirfd);
    j->dirfd = -1;
    free(j->buf);
    free(j->segs);
    free(j->done);
    j->buf = NULL;
    j->segs = NULL;
    j->done = NULL;
    pthread_mutex_destroy(&j->done_lock);
}
