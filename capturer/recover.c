#include "recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flowid.h"
#include "journal.h"
#include "journal_format.h"
#include "log.h"
#include "replay.h"
#include "tracker.h"

struct segment_file {
    char name[64];
    struct jseg_header h;
    uint64_t run_first_us; /* start of the run's oldest segment: runs are replayed oldest first */
};

static bool is_segment_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && n < sizeof ((struct segment_file *)0)->name &&
           strcmp(name + n - 5, ".jrnl") == 0;
}

static int by_run_then_seq(const void *a, const void *b)
{
    const struct segment_file *x = a, *y = b;
    if (x->h.run_id != y->h.run_id)
        return x->h.run_id < y->h.run_id ? -1 : 1;
    return x->h.seq < y->h.seq ? -1 : x->h.seq > y->h.seq;
}

static int by_run_age(const void *a, const void *b)
{
    const struct segment_file *x = a, *y = b;
    if (x->run_first_us != y->run_first_us)
        return x->run_first_us < y->run_first_us ? -1 : 1;
    return by_run_then_seq(a, b);
}

/* Reads the directory: segments with a good header in *out (caller frees), the others deleted and counted. */
static int list_segments(int dirfd, uint64_t own_run, struct segment_file **out, size_t *count,
                         struct recover_stats *st)
{
    *out = NULL;
    *count = 0;
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_segment_name(e->d_name))
            continue;
        if (*count >= RECOVER_MAX_SEGMENTS) {
            log_warn("event=journal_segments_skipped detail=\"more than %u segments: the rest wait for the next "
                     "start\"", RECOVER_MAX_SEGMENTS);
            break;
        }
        int sfd = openat(dirfd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (sfd < 0)
            continue;
        uint8_t hdr[JSEG_HEADER_LEN];
        struct stat sb;
        struct segment_file sf;
        memset(&sf, 0, sizeof sf);
        bool good = fstat(sfd, &sb) == 0 && S_ISREG(sb.st_mode) &&
                    pread(sfd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr && jseg_header_parse(hdr, sizeof hdr, &sf.h);
        close(sfd);
        if (good && own_run != 0 && sf.h.run_id == own_run)
            continue; /* this process's own, opened before recovery to journal the adopted flows again */
        if (!good) {
            st->bad_segments++;
            log_warn("event=journal_segment_unreadable file=%s (deleted)", e->d_name);
            unlinkat(dirfd, e->d_name, 0);
            continue;
        }
        snprintf(sf.name, sizeof sf.name, "%s", e->d_name);
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            struct segment_file *grown = realloc(*out, cap * sizeof *grown);
            if (grown == NULL)
                break;
            *out = grown;
        }
        (*out)[(*count)++] = sf;
    }
    closedir(d);
    /* order: runs by their oldest segment, each run's segments by sequence */
    if (*count > 1) {
        qsort(*out, *count, sizeof **out, by_run_then_seq);
        for (size_t i = 0; i < *count;) {
            size_t k = i;
            uint64_t first = (*out)[i].h.start_us;
            for (; k < *count && (*out)[k].h.run_id == (*out)[i].h.run_id; k++)
                if ((*out)[k].h.start_us < first)
                    first = (*out)[k].h.start_us;
            for (size_t m = i; m < k; m++)
                (*out)[m].run_first_us = first;
            i = k;
        }
        qsort(*out, *count, sizeof **out, by_run_age);
    }
    return 0;
}

static void to_spool(void *arg, struct flow *f)
{
    spool_add(arg, f);
}

/* A FLOW_DONE naming a batch counts unless the batch's .tmp is still in the spool (killed before the rename). */
static bool done_counts(void *arg, const uint8_t *name, size_t len)
{
    const struct spool *s = arg;
    char text[QUEUE_NAME_MAX], tmp[QUEUE_NAME_MAX + 8];
    struct spool_name n;
    if (len == 0 || len >= sizeof text)
        return true;
    memcpy(text, name, len);
    text[len] = '\0';
    if (memchr(text, '\0', len) != NULL || !spool_name_parse(text, &n) || !n.batch)
        return true;
    snprintf(tmp, sizeof tmp, "%s.tmp", text);
    return faccessat(s->dirfd, tmp, F_OK, AT_SYMLINK_NOFOLLOW) != 0;
}

static void replay_segment(int dirfd, const struct segment_file *sf, struct replay *r, struct recover_stats *st)
{
    int fd = openat(dirfd, sf->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size > JSEG_HEADER_LEN) {
        size_t size = (size_t)sb.st_size;
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            madvise(map, size, MADV_SEQUENTIAL);
            replay_records(r, (const uint8_t *)map + JSEG_HEADER_LEN, size - JSEG_HEADER_LEN);
            st->bytes += size;
            munmap(map, size);
        }
    }
    close(fd);
}

struct leftover {
    struct spool *s;
    const struct recover_adopt *adopt;
    struct recover_stats *st;
    bool spool_name_fits; /* the run's link type is the live one: an adopted flow is written with it */
};

/* Written already (the dead process renamed its pcap but died before its FLOW_DONE): continuing it would write a
 * second pcap of the same name. */
static bool in_spool(const struct spool *s, const struct flow *f)
{
    char name[QUEUE_NAME_MAX];
    return spool_flow_name(f, name, sizeof name) == 0 && faccessat(s->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A flow the dead run left open: back into the live table, or written now. */
static void open_flow_left(void *arg, struct flow *f)
{
    struct leftover *l = arg;
    if (l->adopt && l->spool_name_fits && !in_spool(l->s, f)) {
        enum tracker_adopt_result res = tracker_adopt(l->adopt->tr, f, l->adopt->now_mono_us, l->adopt->now_real_us);
        if (res == TRACKER_ADOPTED || res == TRACKER_ADOPTED_AGAIN || res == TRACKER_ADOPT_HELD) {
            l->st->flows_adopted += res == TRACKER_ADOPTED;
            flow_table_release(f);
            return;
        }
    }
    spool_add(l->s, f);
}

/* One run: replay its segments, adopt or write what is left, write this run's journal, then delete the segments
 * (every flow of theirs is durable in a pcap or in this run's journal by then). */
static void recover_run(int dirfd, const struct segment_file *segs, size_t n, struct spool *s,
                        const struct prefix *local, size_t nlocal, const struct replay_limits *limits,
                        const struct recover_adopt *adopt, struct recover_stats *st)
{
    struct replay r;
    if (replay_init(&r, local, nlocal, segs[0].h.dlt, limits, to_spool, s) != 0)
        return; /* out of memory: the segments stay for the next start */
    struct leftover left = {.s = s, .adopt = adopt, .st = st,
                            .spool_name_fits = segs[0].h.linktype == s->linktype && segs[0].h.snaplen == s->snaplen};
    r.done_counts = done_counts;
    r.done_arg = s;
    uint32_t linktype = s->linktype, snaplen = s->snaplen;
    s->linktype = segs[0].h.linktype;
    s->snaplen = segs[0].h.snaplen;
    for (size_t i = 0; i < n; i++)
        replay_segment(dirfd, &segs[i], &r, st);
    r.sink = open_flow_left;
    r.sink_arg = &left;
    replay_finish(&r);
    spool_flush(s);
    spool_batch_close(s); /* the run's batched flows are durable before its segments go */
    if (adopt && adopt->tr->journal)
        journal_flush(adopt->tr->journal, adopt->now_mono_us); /* and the adopted ones journaled again */
    s->linktype = linktype;
    s->snaplen = snaplen;
    st->runs++;
    st->segments += n;
    st->bad_tails += r.stats.bad_tails;
    st->records += r.stats.records;
    st->flows_done += r.stats.flows_done;
    st->packets_skipped += r.stats.packets_skipped;
    st->flows_cut += r.stats.flows_cut;
    if (r.stats.memory_peak > st->memory_peak)
        st->memory_peak = r.stats.memory_peak;
    replay_destroy(&r);
    for (size_t i = 0; i < n; i++)
        unlinkat(dirfd, segs[i].name, 0);
}

static uint64_t finished_flows(const struct tracker *tr)
{
    uint64_t n = 0;
    for (size_t i = 0; i < sizeof tr->stats.finished / sizeof tr->stats.finished[0]; i++)
        n += tr->stats.finished[i];
    return n;
}

int recover_journal(int dirfd, struct spool *s, const struct prefix *local, size_t nlocal,
                    const struct replay_limits *limits, const struct recover_adopt *adopt, struct recover_stats *st)
{
    memset(st, 0, sizeof *st);
    struct segment_file *segs;
    size_t n;
    const struct journal *own = adopt ? adopt->tr->journal : NULL;
    uint64_t own_run = own && own->enabled ? own->tmpl.run_id : 0;
    if (list_segments(dirfd, own_run, &segs, &n, st) != 0)
        return -1;
    struct spool_stats before = s->stats;
    uint64_t finished_before = adopt ? finished_flows(adopt->tr) : 0;
    s->recovering = true;
    for (size_t i = 0; i < n;) {
        size_t k = i;
        while (k < n && segs[k].h.run_id == segs[i].h.run_id)
            k++;
        recover_run(dirfd, segs + i, k - i, s, local, nlocal, limits, adopt, st);
        i = k;
    }
    s->recovering = false;
    free(segs);
    if (n > 0)
        fsync(dirfd);
    st->flows_written_now = s->stats.written - before.written;
    /* adopted flows a bound finished at once are among those written now */
    uint64_t adopted_and_written = adopt ? finished_flows(adopt->tr) - finished_before : 0;
    st->flows_recovered = st->flows_written_now + st->flows_adopted - adopted_and_written;
    st->flows_present = s->stats.already_present - before.already_present;
    st->flows_not_written = (s->stats.dropped_quota - before.dropped_quota) +
                            (s->stats.dropped_write_error - before.dropped_write_error);
    return 0;
}
