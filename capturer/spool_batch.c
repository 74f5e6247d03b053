#include "spool_batch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flowid.h"
#include "flow_table.h"
#include "log.h"
#include "pcapfile.h"
#include "shm.h"
#include "spool.h"

void spool_batch_configure(struct spool *s, uint64_t interval_us, uint32_t max_flows, uint64_t max_bytes)
{
    struct spool_batch *b = &s->batch;
    b->interval_us = interval_us;
    b->max_flows = max_flows > 0 ? max_flows : 1;
    b->max_bytes = max_bytes;
}

bool spool_batch_takes(const struct spool *s, const struct flow *f)
{
    return s->batch.interval_us > 0 && !(f->flags & FLOW_CLIENT_DATA);
}

/* A write failed: the file goes, the members stay listed so that closing counts and reports each of them. */
static void fail(struct spool *s, const char *what, int err)
{
    struct spool_batch *b = &s->batch;
    if (!b->failed)
        log_error("event=batch_failed op=%s file=%s flows=%u error=\"%s\"", what, b->name, b->nmembers,
                  strerror(err));
    b->failed = true;
    if (b->fd >= 0) {
        close(b->fd);
        unlinkat(s->dirfd, b->tmp, 0);
        b->fd = -1;
    }
    b->buf_len = 0;
}

static void write_buffer(struct spool *s)
{
    struct spool_batch *b = &s->batch;
    size_t off = 0;
    while (b->fd >= 0 && off < b->buf_len) {
        ssize_t n = write(b->fd, b->buf + off, b->buf_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail(s, "write", n < 0 ? errno : EIO);
            return;
        }
        off += (size_t)n;
    }
    b->buf_len = 0;
}

static void buffer_bytes(struct spool *s, const uint8_t *data, size_t len)
{
    struct spool_batch *b = &s->batch;
    while (len > 0 && b->fd >= 0) {
        if (b->buf_len == BATCH_BUFFER)
            write_buffer(s);
        size_t room = BATCH_BUFFER - b->buf_len, n = len < room ? len : room;
        memcpy(b->buf + b->buf_len, data, n);
        b->buf_len += n;
        data += n;
        len -= n;
    }
}

static int open_batch(struct spool *s, uint64_t now_mono_us)
{
    struct spool_batch *b = &s->batch;
    if (b->buf == NULL && (b->buf = malloc(BATCH_BUFFER)) == NULL)
        return -1;
    b->opened_us = realtime_ns() / 1000u;
    b->opened_mono_us = now_mono_us;
    b->key = (struct spool_name){.first_us = b->opened_us, .batch = true, .batch_pid = (uint64_t)getpid(),
                                 .batch_number = ++b->next_number};
    if (spool_name_format(&b->key, b->name, sizeof b->name) != 0)
        return -1;
    snprintf(b->tmp, sizeof b->tmp, "%s.tmp", b->name);
    b->fd = openat(s->dirfd, b->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (b->fd < 0) {
        log_error("event=batch_open_failed file=%s error=\"%s\"", b->tmp, strerror(errno));
        return -1;
    }
    b->failed = false;
    b->nmembers = 0;
    b->first_us = UINT64_MAX;
    b->last_us = b->packets = b->wire_bytes = 0;
    uint8_t header[PCAPFILE_GLOBAL_HEADER_LEN];
    pcapfile_global_header(header, s->linktype, s->snaplen);
    b->size = sizeof header;
    s->bytes += sizeof header;
    buffer_bytes(s, header, sizeof header);
    return 0;
}

static int remember(struct spool_batch *b, const struct flow *f)
{
    if (b->nmembers == b->members_cap) {
        uint32_t cap = b->members_cap ? b->members_cap * 2 : 1024;
        if (cap > b->max_flows)
            cap = b->max_flows;
        struct batch_member *grown = realloc(b->members, (size_t)cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        b->members = grown;
        b->members_cap = cap;
    }
    b->members[b->nmembers++] = (struct batch_member){.serial = f->journal_serial, .seg = f->journal_seg};
    return 0;
}

/* A flow the batch cannot take: counted as the per-flow path would count it, and accounted for in the journal. */
static void refuse(struct spool *s, struct flow *f, bool quota)
{
    char name[QUEUE_NAME_MAX];
    bool named = spool_flow_name(f, name, sizeof name) == 0;
    if (quota) {
        spool_note_quota_drop(s, named ? name : "(batch)");
    } else {
        s->stats.dropped_write_error++;
        log_error("event=flow_dropped reason=write_error op=batch file=%s", named ? name : "(batch)");
    }
    if (s->done)
        s->done(s->done_arg, f->journal_serial, f->journal_seg, named ? name : NULL);
    flow_chain_add(&s->released, f);
}

uint64_t spool_batch_quota(const struct spool *s)
{
    return s->quota / 4 * 3;
}

void spool_batch_add(struct spool *s, struct flow *f, uint64_t now_mono_us)
{
    struct spool_batch *b = &s->batch;
    uint64_t header = b->fd < 0 ? PCAPFILE_GLOBAL_HEADER_LEN : 0;
    if (s->bytes + header + f->records_len > spool_batch_quota(s)) {
        refuse(s, f, true);
        /* the spool is full: the shipper can only free it once the open batch is published */
        if (b->nmembers > 0)
            spool_batch_close(s);
        return;
    }
    if (b->fd < 0 && !b->failed && open_batch(s, now_mono_us) != 0) {
        refuse(s, f, false);
        return;
    }
    if (remember(b, f) != 0) {
        refuse(s, f, false);
        return;
    }
    buffer_bytes(s, f->records, f->records_len);
    b->size += f->records_len;
    s->bytes += f->records_len;
    if (f->first_us < b->first_us)
        b->first_us = f->first_us;
    if (f->last_us > b->last_us)
        b->last_us = f->last_us;
    b->packets += f->packets;
    b->wire_bytes += f->wire_bytes;
    flow_chain_add(&s->released, f);
    if (b->nmembers >= b->max_flows || b->size >= b->max_bytes)
        spool_batch_close(s);
}

void spool_batch_tick(struct spool *s, uint64_t now_mono_us)
{
    struct spool_batch *b = &s->batch;
    if ((b->fd >= 0 || b->failed) && now_mono_us - b->opened_mono_us >= b->interval_us)
        spool_batch_close(s);
}

static void announce(struct spool *s)
{
    struct spool_batch *b = &s->batch;
    struct queue_record rec;
    memset(&rec, 0, sizeof rec);
    memcpy(rec.name, b->name, sizeof rec.name);
    rec.key = b->key;
    rec.last_us = b->last_us > b->opened_us ? b->last_us : b->opened_us;
    rec.packets = b->packets;
    rec.bytes = b->wire_bytes;
    rec.file_size = b->size;
    if (s->queue && queue_push(s->queue, &rec) == QUEUE_FULL)
        s->stats.queue_full++;
}

/* Durable, then visible: fsync, the journal barrier, rename (never over a file), the directory's fsync. */
static int publish(struct spool *s)
{
    struct spool_batch *b = &s->batch;
    write_buffer(s);
    if (b->fd < 0)
        return -1;
    if (fsync(b->fd) != 0) {
        fail(s, "fsync", errno);
        return -1;
    }
    if (close(b->fd) != 0) {
        b->fd = -1;
        fail(s, "close", errno);
        unlinkat(s->dirfd, b->tmp, 0);
        return -1;
    }
    b->fd = -1;
    if (s->before_publish)
        s->before_publish(s->publish_arg);
    if (s->batch_commit) {
        s->batch_commit(s->commit_arg, b->members, b->nmembers, b->name);
        b->committed = true;
    }
    int renamed = renameat2(s->dirfd, b->tmp, s->dirfd, b->name, RENAME_NOREPLACE);
    int err = errno;
    if (renamed != 0)
        unlinkat(s->dirfd, b->tmp, 0);
    fsync(s->dirfd);
    if (b->committed && s->batch_published)
        s->batch_published(s->commit_arg);
    if (renamed != 0) {
        fail(s, "rename", err);
        return -1;
    }
    return 0;
}

void spool_batch_close(struct spool *s)
{
    struct spool_batch *b = &s->batch;
    if (b->fd < 0 && !b->failed)
        return;
    if (b->nmembers == 0) { /* nothing to publish (every flow it was opened for was refused) */
        if (b->fd >= 0) {
            close(b->fd);
            unlinkat(s->dirfd, b->tmp, 0);
            s->bytes -= b->size < s->bytes ? b->size : s->bytes;
        }
        b->fd = -1;
        b->failed = false;
        b->buf_len = 0;
        return;
    }
    bool published = !b->failed && publish(s) == 0;
    if (published) {
        s->stats.written += b->nmembers;
        b->stats.batches_written++;
        b->stats.flows_batched += b->nmembers;
        announce(s);
    } else {
        s->bytes -= b->size < s->bytes ? b->size : s->bytes;
        s->stats.dropped_write_error += b->nmembers;
        log_error("event=flow_dropped reason=write_error op=batch file=%s flows=%u", b->name, b->nmembers);
    }
    /* only now is every member durable or counted: the journal may forget them (if batch_commit did not) */
    for (uint32_t i = 0; i < b->nmembers && s->done && !b->committed; i++)
        s->done(s->done_arg, b->members[i].serial, b->members[i].seg, b->name);
    b->nmembers = 0;
    b->failed = false;
    b->committed = false;
    b->buf_len = 0;
}

void spool_batch_free(struct spool *s)
{
    free(s->batch.members);
    free(s->batch.buf);
    s->batch.members = NULL;
    s->batch.buf = NULL;
    s->batch.members_cap = 0;
}
