#include "follow.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confine.h"
#include "inputs.h"

#define FOLLOW_MAX_DEPTH 32
#define FOLLOW_PATH_MAX 4096
/* Files analysed lately, so that a file seen both by a directory scan and by its event is analysed once. */
#define SEEN_RING 1024
#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW)

struct watch {
    int wd;
    char *path;
};

struct seen_file {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct follower {
    const struct follow_options *opt;
    struct run *run;
    int fd;
    struct watch *watches;
    size_t nwatches, capwatches;
    struct seen_file seen[SEEN_RING];
    size_t seen_next, seen_count;
    FILE *log;
    char root[FOLLOW_PATH_MAX]; /* opt->dir without trailing slashes */
};

/* Signals stay blocked except inside ppoll(), so a flag can never be set between its check and the wait; long
 * scans look at the pending set instead. */
static bool stopping(void)
{
    sigset_t pending;
    if (daemon_stop)
        return true;
    if (sigpending(&pending) == 0 && (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT)))
        return true;
    return false;
}

static int local_pcap(const char *name, const uint8_t *data, size_t len, void *arg)
{
    return analysis_run_pcap(arg, name, -1, data, len);
}

static bool is_complete_pcap_name(const char *name)
{
    static const char *suffixes[] = { ".pcap", ".pcapng", ".cap" };
    size_t n = strlen(name);
    if (name[0] == '.' || strstr(name, ".tmp")) /* the shipper's NAME.pcap.tmp.PID before its rename */
        return false;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0)
            return true;
    }
    return false;
}

static bool already_seen(struct follower *f, const struct stat *st)
{
    for (size_t i = 0; i < f->seen_count; i++) {
        const struct seen_file *s = &f->seen[i];
        if (s->dev == st->st_dev && s->ino == st->st_ino && s->size == st->st_size &&
            s->mtime.tv_sec == st->st_mtim.tv_sec && s->mtime.tv_nsec == st->st_mtim.tv_nsec)
            return true;
    }
    f->seen[f->seen_next] = (struct seen_file){ st->st_dev, st->st_ino, st->st_size, st->st_mtim };
    f->seen_next = (f->seen_next + 1) % SEEN_RING;
    if (f->seen_count < SEEN_RING)
        f->seen_count++;
    return false;
}

static bool seen_before(void *arg, const struct stat *st)
{
    return already_seen(arg, st);
}

/* Opened without following a link, checked on the open file: nothing between a check and the open to race. */
static void analyse_file(struct follower *f, const char *path, const char *name)
{
    if (!is_complete_pcap_name(name))
        return;
    /* errors are reported on stderr; the loop goes on */
    input_file_nofollow(path, f->opt->max_file, seen_before, f, local_pcap, f->run);
}

static struct watch *find_watch(struct follower *f, int wd)
{
    for (size_t i = 0; i < f->nwatches; i++)
        if (f->watches[i].wd == wd)
            return &f->watches[i];
    return NULL;
}

static int add_watch(struct follower *f, const char *path)
{
    int wd = inotify_add_watch(f->fd, path, WATCH_MASK);
    if (wd < 0) {
        fprintf(stderr, "lurker-analyzer: watching %s: %s%s\n", path, strerror(errno),
                errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
        return -1;
    }
    char *copy = strdup(path);
    if (!copy)
        return -1;
    struct watch *w = find_watch(f, wd);
    if (w) { /* the same directory again (after an overflow rescan), or a directory moved to a new name */
        free(w->path);
        w->path = copy;
        return 0;
    }
    if (f->nwatches == f->capwatches) {
        size_t cap = f->capwatches ? f->capwatches * 2 : 64;
        struct watch *nw = realloc(f->watches, cap * sizeof *nw);
        if (!nw) {
            free(copy);
            return -1;
        }
        f->watches = nw;
        f->capwatches = cap;
    }
    f->watches[f->nwatches++] = (struct watch){ wd, copy };
    return 0;
}

static void drop_watch(struct follower *f, int wd)
{
    struct watch *w = find_watch(f, wd);
    if (!w)
        return;
    free(w->path);
    *w = f->watches[--f->nwatches];
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Watches `path` and every directory below it; the watch comes first, then the listing, so that a file created in
 * between is seen by one or the other (both: analysed once). analyse: also analyse the pcaps found. */
static int scan_tree(struct follower *f, const char *path, bool analyse, int depth)
{
    if (depth > FOLLOW_MAX_DEPTH) {
        fprintf(stderr, "lurker-analyzer: %s: directories nested too deeply\n", path);
        return 0;
    }
    if (add_watch(f, path) != 0)
        return -1;
    struct dirent **names;
    int n = scandir(path, &names, NULL, compare_names);
    if (n < 0) {
        fprintf(stderr, "lurker-analyzer: %s: %s\n", path, strerror(errno));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char child[FOLLOW_PATH_MAX];
        int k = snprintf(child, sizeof child, "%s/%s", path, name);
        struct stat st;
        if (name[0] != '.' && k > 0 && (size_t)k < sizeof child && !stopping() && lstat(child, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                scan_tree(f, child, analyse, depth + 1);
            else if (analyse)
                analyse_file(f, child, name);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

static int depth_of(const struct follower *f, const char *path)
{
    int depth = 0;
    for (const char *p = path + strlen(f->root); *p; p++)
        depth += *p == '/';
    return depth;
}

static void handle_event(struct follower *f, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        /* events were lost: watch any directory they announced; pcaps they announced are not analysed */
        fprintf(stderr, "lurker-analyzer: inotify queue overflowed: pcaps written meanwhile may be missed\n");
        scan_tree(f, f->root, false, 0);
        return;
    }
    if (ev->mask & IN_IGNORED) {
        drop_watch(f, ev->wd);
        return;
    }
    struct watch *w = find_watch(f, ev->wd);
    if (!w || ev->len == 0)
        return;
    char child[FOLLOW_PATH_MAX];
    int k = snprintf(child, sizeof child, "%s/%s", w->path, ev->name);
    if (k < 0 || (size_t)k >= sizeof child)
        return;
    if (ev->mask & IN_ISDIR) {
        if (ev->mask & (IN_CREATE | IN_MOVED_TO))
            scan_tree(f, child, true, depth_of(f, child));
    } else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        analyse_file(f, child, ev->name);
    }
}

static FILE *open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        fprintf(stderr, "lurker-analyzer: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    FILE *log = fdopen(fd, "a");
    if (!log) {
        close(fd);
        return NULL;
    }
    setvbuf(log, NULL, _IOLBF, 0); /* one record per line, each visible as soon as it is written */
    return log;
}

static void reopen_log(struct follower *f)
{
    if (!f->opt->log_path)
        return;
    FILE *log = open_log(f->opt->log_path);
    if (!log)
        return; /* keep writing to the old file rather than losing records */
    fclose(f->log);
    f->log = log;
    f->run->out = log;
}

static void read_events(struct follower *f)
{
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(f->fd, buf, sizeof buf);
        if (n <= 0)
            return; /* EAGAIN: drained */
        for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            off += sizeof *ev + ev->len;
            if (off > (size_t)n)
                break;
            handle_event(f, ev);
        }
    }
}

static void install_signals(sigset_t *wait_mask)
{
    daemon_catch_signals(DAEMON_SIGHUP_RELOADS);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, wait_mask);
    sigdelset(wait_mask, SIGTERM);
    sigdelset(wait_mask, SIGINT);
    sigdelset(wait_mask, SIGHUP);
}

int follow_main(const struct follow_options *opt, struct run *run)
{
    struct follower f = { .opt = opt, .run = run, .fd = -1 };
    sigset_t wait_mask;
    install_signals(&wait_mask);
    run->progress = false;
    if (opt->log_path) {
        f.log = open_log(opt->log_path);
        if (!f.log)
            return 1;
        run->out = f.log;
    } else {
        setvbuf(run->out, NULL, _IOLBF, 0);
    }
    int rc = 1;
    f.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (f.fd < 0) {
        fprintf(stderr, "lurker-analyzer: inotify: %s\n", strerror(errno));
        goto out;
    }
    struct stat st;
    if (stat(opt->dir, &st) != 0 && errno == ENOENT) {
        /* the shipper creates the archive with its first pcap: wait for it rather than fail under supervisord */
        fprintf(stderr, "lurker-analyzer: %s does not exist yet: waiting for it\n", opt->dir);
        while (!daemon_stop && stat(opt->dir, &st) != 0 && errno == ENOENT)
            ppoll(NULL, 0, &(struct timespec){ .tv_sec = 1 }, &wait_mask);
        if (daemon_stop) {
            rc = 0;
            goto out;
        }
    }
    size_t len = strlen(opt->dir);
    while (len > 1 && opt->dir[len - 1] == '/')
        len--;
    if (len >= sizeof f.root || stat(opt->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "lurker-analyzer: %s: not a directory\n", opt->dir);
        goto out;
    }
    memcpy(f.root, opt->dir, len);
    f.root[len] = '\0';
    if (geteuid() == 0)
        fprintf(stderr, "lurker-analyzer: warning: running as root; run it as the sensor's user "
                        "(infra/supervisord-follow.conf: user=)\n");
    char err[512];
    struct follow_policy policy;
    if (follow_policy(&policy, f.root, opt->log_path, err, sizeof err) != 0 ||
        daemon_confine(&policy.daemon, err, sizeof err) != 0) {
        fprintf(stderr, "lurker-analyzer: confinement: %s\n", err);
        goto out;
    }
    if (scan_tree(&f, f.root, opt->existing, 0) != 0)
        goto out;
    fprintf(stderr, "lurker-analyzer: following %s (%zu directories watched, %s)\n", opt->dir, f.nwatches,
            opt->existing ? "existing pcaps analysed" : "new pcaps only");
    while (!daemon_stop) {
        struct pollfd pfd = { .fd = f.fd, .events = POLLIN };
        int n = ppoll(&pfd, 1, NULL, &wait_mask);
        if (daemon_reload) {
            daemon_reload = 0;
            reopen_log(&f);
        }
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "lurker-analyzer: poll: %s\n", strerror(errno));
            goto out;
        }
        if (n > 0)
            read_events(&f);
    }
    fprintf(stderr, "lurker-analyzer: stopped by signal %d after %llu pcaps, %llu flows\n", (int)daemon_stop,
            (unsigned long long)run->inputs, (unsigned long long)run->flows);
    rc = 0;
out:
    for (size_t i = 0; i < f.nwatches; i++)
        free(f.watches[i].path);
    free(f.watches);
    if (f.fd >= 0)
        close(f.fd);
    if (f.log) {
        fclose(f.log);
        run->out = stdout;
    }
    return rc;
}
