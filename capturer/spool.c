#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "flowid.h"
#include "log.h"
#include "pcapfile.h"
#include "shm.h"

#define QUOTA_LOG_INTERVAL_US 10000000u

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    return n >= m && memcmp(name + n - m, suffix, m) == 0;
}

static bool is_batch_tmp(const char *name)
{
    char stem[QUEUE_NAME_MAX];
    struct spool_name n;
    size_t len = strlen(name);
    if (len <= 4 || len - 4 >= sizeof stem)
        return false;
    memcpy(stem, name, len - 4);
    stem[len - 4] = '\0';
    return spool_name_parse(stem, &n) && n.batch;
}

/* A killed run's NAME.pcap.tmp files: flows' at once; batches' (batches true) only after the journal's recovery,
 * which asks whether a batch's .tmp is still there (recover.c). */
static void remove_stale_tmp(struct spool *s, bool batches)
{
    int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        bool ours = e->d_name[0] != '.' && has_suffix(e->d_name, ".tmp") && strstr(e->d_name, ".pcap.") != NULL;
        if (ours && is_batch_tmp(e->d_name) == batches && unlinkat(s->dirfd, e->d_name, 0) == 0) {
            s->stats.stale_tmp_removed++;
            log_info("event=stale_tmp_removed file=%s", e->d_name);
        }
    }
    closedir(d);
}

/* What a file costs the disk, which the quota bounds: its blocks (at least one 4 KiB block per started 4 KiB) and
 * an inode and directory entry. Counting st_size alone let 1 GiB of quota hold millions of tiny files and many
 * times the quota in blocks. */
#define SPOOL_BLOCK 4096u
#define SPOOL_FILE_OVERHEAD 512u

static uint64_t spool_file_cost(uint64_t size, uint64_t allocated)
{
    uint64_t blocks = (size + SPOOL_BLOCK - 1) / SPOOL_BLOCK * SPOOL_BLOCK;
    return (allocated > blocks ? allocated : blocks) + SPOOL_FILE_OVERHEAD;
}

/* Sum of regular files' costs in dirfd; one level of subdirectories when depth allows. */
static uint64_t directory_bytes(int dirfd, int depth)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", and hidden entries such as the journal, which keeps its own account */
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            total += spool_file_cost((uint64_t)st.st_size, (uint64_t)st.st_blocks * 512u);
        } else if (S_ISDIR(st.st_mode) && depth > 0) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (sub >= 0) {
                total += directory_bytes(sub, depth - 1);
                close(sub);
            }
        }
    }
    closedir(d);
    return total;
}

int spool_rescan(struct spool *s)
{
    s->bytes = directory_bytes(s->dirfd, 1);
    return 0;
}

int spool_open(struct spool *s, const char *dir, uint64_t quota, uint32_t linktype, uint32_t snaplen,
               struct lurker_queue *queue, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", dir);
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (faccessat(s->dirfd, ".", W_OK, AT_EACCESS) != 0) {
        snprintf(err, errlen, "spool directory %s is not writable: %s", dir, strerror(errno));
        close(s->dirfd);
        return -1;
    }
    s->batch.fd = -1;
    s->quota = quota;
    s->linktype = linktype;
    s->snaplen = snaplen;
    s->queue = queue;
    remove_stale_tmp(s, false);
    spool_rescan(s);
    return 0;
}

void spool_remove_stale_batches(struct spool *s)
{
    remove_stale_tmp(s, true);
}

void spool_close(struct spool *s)
{
    spool_flush(s);
    spool_batch_close(s);
    spool_batch_free(s);
    flow_pool_hand_back(&s->released);
    if (s->dirfd >= 0)
        close(s->dirfd);
    s->dirfd = -1;
}

void spool_flow_key(const struct flow *f, struct spool_name *n)
{
    memset(n, 0, sizeof *n);
    bool icmp = f->key.proto == IPPROTO_ICMP || f->key.proto == IPPROTO_ICMPV6;
    n->first_us = f->first_us;
    n->id.proto = f->key.proto;
    n->id.remote_port = f->key.remote_port;
    n->id.local_port = icmp ? f->first_code : f->key.local_port;
    n->id.remote.family = n->id.local.family = f->key.family;
    memcpy(n->id.remote.bytes, f->key.remote, 16);
    memcpy(n->id.local.bytes, f->key.local, 16);
}

int spool_flow_name(const struct flow *f, char *out, size_t outlen)
{
    struct spool_name n;
    spool_flow_key(f, &n);
    return spool_name_format(&n, out, outlen);
}

void spool_add(struct spool *s, struct flow *f)
{
    s->pending[s->npending++] = f;
    if (s->npending == SPOOL_BATCH)
        spool_flush(s);
}

/* One flow of a batch on its way to the spool. */
struct pending_file {
    struct flow *flow;
    int fd;                      /* open .tmp, -1 when dropped */
    uint64_t size;
    struct spool_name key;
    char name[QUEUE_NAME_MAX];
    char tmp[QUEUE_NAME_MAX + 8];
};

void spool_note_quota_drop(struct spool *s, const char *name)
{
    s->stats.dropped_quota++;
    s->quota_drops_unlogged++;
    uint64_t now = monotonic_ns() / 1000u;
    if (s->quota_log_mono_us == 0 || now - s->quota_log_mono_us >= QUOTA_LOG_INTERVAL_US) {
        log_warn("event=flow_dropped reason=spool_quota spool_bytes=%llu quota=%llu dropped_since_last_log=%llu "
                 "file=%s (the shipper is not keeping up or is not running)",
                 (unsigned long long)s->bytes, (unsigned long long)s->quota,
                 (unsigned long long)s->quota_drops_unlogged, name);
        s->quota_log_mono_us = now;
        s->quota_drops_unlogged = 0;
    }
}

static void write_error(struct spool *s, struct pending_file *p, const char *what, int err)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    if (p->tmp[0] != '\0')
        unlinkat(s->dirfd, p->tmp, 0);
    s->stats.dropped_write_error++;
    log_error("event=flow_dropped reason=write_error op=%s file=%s error=\"%s\"", what, p->name, strerror(err));
}

/* Writes the .tmp; on any failure the flow is dropped and counted. */
static void write_tmp(struct spool *s, struct pending_file *p)
{
    p->fd = -1;
    p->tmp[0] = '\0';
    p->size = PCAPFILE_GLOBAL_HEADER_LEN + p->flow->records_len;
    spool_flow_key(p->flow, &p->key);
    if (spool_name_format(&p->key, p->name, sizeof p->name) != 0) {
        write_error(s, p, "name", ENAMETOOLONG);
        return;
    }
    if (s->bytes + spool_file_cost(p->size, 0) > s->quota) {
        spool_note_quota_drop(s, p->name);
        return;
    }
    /* NAME.pcap.tmp; NAME.pcap.N.tmp when a flow of this batch already holds that name (same tuple, same µs) */
    for (int n = 0; n < 10 && p->fd < 0; n++) {
        if (n == 0)
            snprintf(p->tmp, sizeof p->tmp, "%s.tmp", p->name);
        else
            snprintf(p->tmp, sizeof p->tmp, "%s.%d.tmp", p->name, n);
        p->fd = openat(s->dirfd, p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (p->fd < 0 && errno != EEXIST)
            break;
    }
    if (p->fd < 0) {
        int err = errno;
        p->tmp[0] = '\0'; /* not ours to remove */
        write_error(s, p, "open", err);
        return;
    }
    if (pcapfile_write_fd(p->fd, s->linktype, s->snaplen, p->flow->records, p->flow->records_len) != 0) {
        write_error(s, p, "write", errno);
        return;
    }
    s->bytes += spool_file_cost(p->size, 0);
}

/* Whether NAME.pcap holds exactly the bytes p would write. */
static bool same_file(struct spool *s, const struct pending_file *p)
{
    int fd = openat(s->dirfd, p->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct stat st;
    bool same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == p->size;
    uint8_t header[PCAPFILE_GLOBAL_HEADER_LEN];
    pcapfile_global_header(header, s->linktype, s->snaplen);
    uint8_t chunk[16384];
    for (uint64_t off = 0; same && off < p->size;) {
        size_t want = p->size - off < sizeof chunk ? (size_t)(p->size - off) : sizeof chunk;
        ssize_t n = pread(fd, chunk, want, (off_t)off);
        if (n <= 0) {
            same = false;
            break;
        }
        for (size_t i = 0; i < (size_t)n && same; i++) {
            uint64_t at = off + i;
            uint8_t expect = at < sizeof header ? header[at] : p->flow->records[at - sizeof header];
            same = chunk[i] == expect;
        }
        off += (uint64_t)n;
    }
    close(fd);
    return same;
}

/* Renames NAME.pcap.tmp to NAME.pcap, or NAME-N.pcap if that name is taken (two flows of one tuple in one µs).
 * Returns 0, 1 when recovering and NAME.pcap already is this flow (the .tmp is removed), or -1. */
static int publish(struct spool *s, struct pending_file *p)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        p->key.duplicate = (uint32_t)attempt;
        if (spool_name_format(&p->key, p->name, sizeof p->name) != 0)
            break;
        if (renameat2(s->dirfd, p->tmp, s->dirfd, p->name, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno != EEXIST)
            return -1;
        if (attempt == 0 && s->recovering && same_file(s, p)) {
            unlinkat(s->dirfd, p->tmp, 0);
            return 1;
        }
    }
    errno = EEXIST;
    return -1;
}

static void announce(struct spool *s, const struct pending_file *p)
{
    const struct flow *f = p->flow;
    struct queue_record rec;
    memset(&rec, 0, sizeof rec);
    memcpy(rec.name, p->name, sizeof rec.name);
    rec.key = p->key;
    rec.flags = f->flags & (FLOW_TRUNCATED | FLOW_EARLY);
    rec.last_us = f->last_us;
    rec.packets = f->packets;
    rec.bytes = f->wire_bytes;
    rec.file_size = p->size;
    /* the queue carries TCP, UDP and ICMP flows; a pcap of any other protocol waits for the shipper's rescan */
    bool announced_proto = flowid_proto_name(rec.key.id.proto, PROTO_SPELLING_NAME) != NULL;
    if (s->queue && announced_proto && queue_push(s->queue, &rec) == QUEUE_FULL)
        s->stats.queue_full++;
}

void spool_flush(struct spool *s)
{
    if (s->npending == 0)
        return;
    struct pending_file files[SPOOL_BATCH];
    size_t n = 0, open_files = 0;
    uint64_t now_mono_us = monotonic_ns() / 1000u;
    for (size_t i = 0; i < s->npending; i++) {
        if (spool_batch_takes(s, s->pending[i]))
            spool_batch_add(s, s->pending[i], now_mono_us);
        else
            files[n++].flow = s->pending[i];
    }
    for (size_t i = 0; i < n; i++) {
        write_tmp(s, &files[i]);
        if (files[i].fd >= 0)
            open_files++;
    }
    s->npending = 0;

    /* durability of the whole batch at once; per-file fsync only if syncfs reports a problem */
    bool synced = open_files > 0 && syncfs(s->dirfd) == 0;
    if (open_files > 0 && !synced && !s->syncfs_failure_logged) {
        log_warn("event=syncfs_failed error=\"%s\" (each pcap is fsynced on its own: a few times slower)",
                 strerror(errno));
        s->syncfs_failure_logged = true;
    }
    if (open_files > 0 && s->before_publish)
        s->before_publish(s->publish_arg);
    for (size_t i = 0; i < n; i++) {
        struct pending_file *p = &files[i];
        if (p->fd < 0)
            continue;
        if (!synced && fsync(p->fd) != 0) {
            s->bytes -= spool_file_cost(p->size, 0);
            write_error(s, p, "fsync", errno);
            continue;
        }
        if (close(p->fd) != 0) {
            p->fd = -1;
            s->bytes -= spool_file_cost(p->size, 0);
            write_error(s, p, "close", errno);
            continue;
        }
        p->fd = -1;
        int published = publish(s, p);
        if (published < 0) {
            s->bytes -= spool_file_cost(p->size, 0);
            write_error(s, p, "rename", errno);
            continue;
        }
        if (published == 1) {
            s->bytes -= spool_file_cost(p->size, 0);
            s->stats.already_present++;
            continue;
        }
        s->stats.written++;
        announce(s, p);
    }
    if (open_files > 0)
        fsync(s->dirfd); /* the renames themselves */
    /* only now is every flow of the batch durable or counted: the journal may forget them */
    for (size_t i = 0; i < n; i++) {
        if (s->done)
            s->done(s->done_arg, files[i].flow->journal_serial, files[i].flow->journal_seg, files[i].name);
        flow_chain_add(&s->released, files[i].flow);
    }
    flow_pool_hand_back(&s->released);
}
