#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(CNT_COUNT <= SHM_COUNTER_SLOTS, "more counters than the layout reserves");

uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t header_bytes(void)
{
    return (sizeof(struct shm_header) + 63) & ~(size_t)63;
}

static int valid_name(const char *name, char *err, size_t errlen)
{
    size_t n = strnlen(name, 64);
    if (n < 2 || n >= 64 || name[0] != '/' || strchr(name + 1, '/') != NULL) {
        snprintf(err, errlen, "shared memory name '%s' must be '/' followed by 1-62 characters without '/'", name);
        return -1;
    }
    return 0;
}

static int map_segment(int fd, size_t size, bool writable, struct shm_segment *seg, const char *name, char *err,
                       size_t errlen)
{
    void *base = mmap(NULL, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        snprintf(err, errlen, "mmap %s: %s", name, strerror(errno));
        return -1;
    }
    seg->hdr = base;
    seg->size = size;
    seg->queue = NULL;
    snprintf(seg->name, sizeof seg->name, "%s", name);
    return 0;
}

/* /dev/shm is world-writable: anyone may have created the name before us. Only root's or our own segment, with no
 * access for others, is taken; anything else is refused with whose it is and how to get rid of it. */
static int check_owner(const struct stat *st, const char *name, char *err, size_t errlen)
{
    uid_t me = geteuid();
    if (st->st_uid != 0 && st->st_uid != me) {
        const struct passwd *pw = getpwuid(st->st_uid);
        snprintf(err, errlen,
                 "shared memory %s belongs to uid %u (%s), not to root or uid %u: another user may have planted it; "
                 "check that no lurker of theirs uses it, then remove it as root: rm /dev/shm%s",
                 name, (unsigned)st->st_uid, pw ? pw->pw_name : "unknown user", (unsigned)me, name);
        return -1;
    }
    if ((st->st_mode & 07777 & ~(mode_t)0660) != 0) {
        snprintf(err, errlen,
                 "shared memory %s has mode %04o, wider than 0660: someone changed it; stop lurker, then run: "
                 "lurker-ctl --shm %s reset",
                 name, (unsigned)(st->st_mode & 07777), name);
        return -1;
    }
    return 0;
}

static size_t max_segment_bytes(void)
{
    return header_bytes() + queue_bytes(QUEUE_MAX_SLOTS);
}

/* Checks a segment someone else created. Waits up to a second for its creator to finish initialising. Every value
 * used later (size, queue geometry) is copied into seg here and never read from the segment again. */
static int validate_existing(int fd, bool writable, const char *name, struct shm_segment *seg, char *err,
                             size_t errlen)
{
    struct stat st;
    for (int tries = 0;; tries++) {
        if (fstat(fd, &st) != 0) {
            snprintf(err, errlen, "fstat %s: %s", name, strerror(errno));
            return -1;
        }
        if (check_owner(&st, name, err, errlen) != 0)
            return -1;
        if ((size_t)st.st_size >= sizeof(struct shm_header))
            break;
        if (tries >= 100) {
            snprintf(err, errlen, "shared memory %s is %lld bytes: not a lurker segment (remove it: lurker-ctl --shm %s reset)",
                     name, (long long)st.st_size, name);
            return -1;
        }
        usleep(10000);
    }
    if ((uint64_t)st.st_size > max_segment_bytes()) {
        snprintf(err, errlen, "shared memory %s is %lld bytes, more than any lurker segment: run lurker-ctl --shm %s reset",
                 name, (long long)st.st_size, name);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    if (map_segment(fd, size, writable, seg, name, err, errlen) != 0)
        return -1;
    for (int tries = 0; atomic_load_explicit(&seg->hdr->magic, memory_order_acquire) != SHM_MAGIC; tries++) {
        if (tries >= 100) {
            snprintf(err, errlen, "shared memory %s has no lurker header (remove it: lurker-ctl --shm %s reset)", name, name);
            shm_detach(seg);
            return -1;
        }
        usleep(10000);
    }
    uint32_t version = *(volatile uint32_t *)&seg->hdr->layout_version;
    if (version != SHM_LAYOUT_VERSION) {
        snprintf(err, errlen,
                 "shared memory %s has layout version %u, this build uses %u: stop every lurker process of this "
                 "instance, then run: lurker-ctl --shm %s reset",
                 name, version, SHM_LAYOUT_VERSION, name);
        shm_detach(seg);
        return -1;
    }
    if (*(volatile uint64_t *)&seg->hdr->total_size != (uint64_t)size ||
        *(volatile uint32_t *)&seg->hdr->header_size != header_bytes() ||
        queue_attach(&seg->queue_handle, (char *)seg->hdr + header_bytes(), size - header_bytes()) != 0) {
        snprintf(err, errlen,
                 "shared memory %s has an inconsistent size or queue geometry (%zu bytes): run lurker-ctl --shm %s reset",
                 name, size, name);
        shm_detach(seg);
        return -1;
    }
    seg->queue = &seg->queue_handle;
    return 0;
}

int shm_attach(const char *name, uint32_t queue_slots, struct shm_segment *seg, char *err, size_t errlen)
{
    memset(seg, 0, sizeof *seg);
    if (valid_name(name, err, errlen) != 0)
        return -1;
    if (queue_slots == 0 || queue_slots > QUEUE_MAX_SLOTS || (queue_slots & (queue_slots - 1)) != 0) {
        snprintf(err, errlen, "queue_slots %u is not a power of two up to %u", queue_slots, QUEUE_MAX_SLOTS);
        return -1;
    }
    size_t size = header_bytes() + queue_bytes(queue_slots);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST) {
        fd = shm_open(name, O_RDWR | O_NOFOLLOW, 0);
        if (fd < 0) {
            snprintf(err, errlen, "shm_open %s: %s", name, strerror(errno));
            return -1;
        }
        int rc = validate_existing(fd, true, name, seg, err, errlen);
        close(fd);
        if (rc == 0 && seg->queue->slots != queue_slots)
            /* The queue keeps the size it was created with; a changed setting applies after a reset. */
            snprintf(err, errlen, "note: %s keeps its %u queue slots (config asks %u)", name, seg->queue->slots,
                     queue_slots);
        return rc;
    }
    if (fd < 0) {
        snprintf(err, errlen, "shm_open %s: %s", name, strerror(errno));
        return -1;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        snprintf(err, errlen, "ftruncate %s to %zu bytes: %s", name, size, strerror(errno));
        close(fd);
        shm_unlink(name);
        return -1;
    }
    int rc = map_segment(fd, size, true, seg, name, err, errlen);
    close(fd);
    if (rc != 0) {
        shm_unlink(name);
        return -1;
    }
    struct shm_header *h = seg->hdr;
    h->layout_version = SHM_LAYOUT_VERSION;
    h->header_size = (uint32_t)header_bytes();
    h->total_size = size;
    h->created_ns = realtime_ns();
    queue_init(&seg->queue_handle, (char *)h + header_bytes(), queue_slots);
    seg->queue = &seg->queue_handle;
    atomic_store_explicit(&h->magic, SHM_MAGIC, memory_order_release);
    return 0;
}

static int attach_existing(const char *name, bool writable, struct shm_segment *seg, char *err, size_t errlen)
{
    memset(seg, 0, sizeof *seg);
    if (valid_name(name, err, errlen) != 0)
        return -1;
    int fd = shm_open(name, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW, 0);
    if (fd < 0) {
        snprintf(err, errlen, "shared memory %s: %s (is lurker running with this shm_name?)", name,
                 strerror(errno));
        return -1;
    }
    int rc = validate_existing(fd, writable, name, seg, err, errlen);
    close(fd);
    return rc;
}

int shm_attach_readonly(const char *name, struct shm_segment *seg, char *err, size_t errlen)
{
    return attach_existing(name, false, seg, err, errlen);
}

int shm_attach_existing(const char *name, struct shm_segment *seg, char *err, size_t errlen)
{
    return attach_existing(name, true, seg, err, errlen);
}

void shm_detach(struct shm_segment *seg)
{
    if (seg->hdr)
        munmap(seg->hdr, seg->size);
    seg->hdr = NULL;
    seg->queue = NULL;
}

int shm_remove(const char *name)
{
    return shm_unlink(name);
}

/* When pid's process started, in CLOCK_REALTIME seconds (0: unknown, e.g. no /proc). */
static uint64_t process_start_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and ')' */
    if (!p)
        return 0;
    unsigned long long start_ticks = 0;
    /* after ") " come state (field 3) ... starttime (field 22) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &start_ticks) != 1)
        return 0;
    struct timespec boot;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t boot_at = realtime_ns() / 1000000000ULL - (uint64_t)boot.tv_sec;
    return hz > 0 ? boot_at + start_ticks / (unsigned long long)hz : 0;
}

/* A slot's pid is its holder only while that process exists and is not younger than the registration: a pid the
 * kernel has since handed to another process (or a made-up one) does not hold the slot. */
static bool holder_alive(const struct shm_process_slot *slot, pid_t pid)
{
    if (pid <= 0 || !(kill(pid, 0) == 0 || errno == EPERM))
        return false;
    uint64_t started = process_start_s(pid);
    uint64_t registered = atomic_load(&slot->started_ns) / 1000000000ULL;
    return started == 0 || started <= registered + 2; /* 2 s: the tick rounding of both clocks */
}

/* Seconds since the slot's last heartbeat; a heartbeat in the future (a made-up value) counts as never. */
static uint64_t heartbeat_age_s(const struct shm_process_slot *slot)
{
    uint64_t hb = atomic_load(&slot->heartbeat_ns), now = monotonic_ns();
    if (hb > now + 1000000000ULL)
        return UINT64_MAX;
    return hb >= now ? 0 : (now - hb) / 1000000000ULL;
}

bool shm_process_alive(const struct shm_segment *seg, enum lurker_process p)
{
    const struct shm_process_slot *slot = &seg->hdr->procs[p];
    return holder_alive(slot, atomic_load(&slot->pid));
}

bool shm_process_holds_slot(const struct shm_segment *seg, enum lurker_process p)
{
    const struct shm_process_slot *slot = &seg->hdr->procs[p];
    return shm_process_alive(seg, p) && heartbeat_age_s(slot) < SHM_SLOT_ABANDONED_S;
}

int shm_register(struct shm_segment *seg, enum lurker_process p, char *err, size_t errlen)
{
    struct shm_process_slot *slot = &seg->hdr->procs[p];
    int32_t me = (int32_t)getpid();
    int32_t old = atomic_load(&slot->pid);
    for (int tries = 0;; tries++) {
        if (old != 0 && old != me && shm_process_holds_slot(seg, p)) {
            snprintf(err, errlen, "another %s (pid %d) is running on %s", process_name(p), old, seg->name);
            return -1;
        }
        if (tries >= 100) { /* someone keeps rewriting the slot */
            snprintf(err, errlen, "the %s slot of %s keeps changing under us: is the segment tampered with?",
                     process_name(p), seg->name);
            return -1;
        }
        /* Times first, so whoever reads the pid we are about to store also reads a fresh registration. Of two
         * processes starting at once, the compare-exchange lets exactly one win; the other sees it alive. */
        atomic_store(&slot->started_ns, realtime_ns());
        atomic_store(&slot->heartbeat_ns, monotonic_ns());
        if (atomic_compare_exchange_strong(&slot->pid, &old, me))
            break;
    }
    return 0;
}

void shm_heartbeat(struct shm_segment *seg, enum lurker_process p)
{
    atomic_store_explicit(&seg->hdr->procs[p].heartbeat_ns, monotonic_ns(), memory_order_relaxed);
}

void shm_unregister(struct shm_segment *seg, enum lurker_process p)
{
    int32_t me = (int32_t)getpid();
    atomic_compare_exchange_strong(&seg->hdr->procs[p].pid, &me, 0);
}

int shm_new_key(struct shm_segment *seg)
{
    uint8_t key[SHM_KEY_BYTES];
    if (RAND_bytes(key, sizeof key) != 1)
        return -1;
    /* Readers copy the key then re-check the generation: an odd generation means a write is under way. */
    struct shm_header *h = seg->hdr;
    uint64_t gen = atomic_load(&h->key_generation);
    atomic_store(&h->key_generation, gen | 1);
    memcpy(h->synack_key, key, sizeof key);
    atomic_store(&h->key_created_ns, realtime_ns());
    atomic_store(&h->key_generation, (gen | 1) + 1);
    return 0;
}

int shm_get_key(const struct shm_segment *seg, uint8_t key[SHM_KEY_BYTES], uint64_t *generation, char *err,
                size_t errlen)
{
    const struct shm_header *h = seg->hdr;
    uint8_t copy[SHM_KEY_BYTES];
    uint64_t before = 0;
    /* A writer holds the generation odd for one 16-byte copy: a thousand yields is far longer than that takes. */
    for (int tries = 0; tries < SHM_KEY_READ_TRIES; tries++) {
        before = atomic_load(&h->key_generation);
        if (before == 0) {
            *generation = 0;
            return 0;
        }
        memcpy(copy, (const void *)h->synack_key, SHM_KEY_BYTES);
        atomic_thread_fence(memory_order_acquire);
        uint64_t after = atomic_load(&h->key_generation);
        if (before == after && (before & 1) == 0) {
            memcpy(key, copy, SHM_KEY_BYTES);
            *generation = before;
            return 0;
        }
        sched_yield();
    }
    snprintf(err, errlen,
             "the SYN-cookie key in %s stays mid-update (generation %llu): a responder died while writing it or "
             "the segment was tampered with; restarting the responder writes a new one",
             seg->name, (unsigned long long)before);
    return -1;
}
