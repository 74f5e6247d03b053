#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
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

static int map_segment(int fd, size_t size, struct shm_segment *seg, const char *name, char *err, size_t errlen)
{
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        snprintf(err, errlen, "mmap %s: %s", name, strerror(errno));
        return -1;
    }
    seg->hdr = base;
    seg->size = size;
    seg->queue = (struct lurker_queue *)((char *)base + header_bytes());
    snprintf(seg->name, sizeof seg->name, "%s", name);
    return 0;
}

/* Checks a segment someone else created. Waits up to a second for its creator to finish initialising. */
static int validate_existing(int fd, const char *name, struct shm_segment *seg, char *err, size_t errlen)
{
    struct stat st;
    for (int tries = 0;; tries++) {
        if (fstat(fd, &st) != 0) {
            snprintf(err, errlen, "fstat %s: %s", name, strerror(errno));
            return -1;
        }
        if ((size_t)st.st_size >= sizeof(struct shm_header))
            break;
        if (tries >= 100) {
            snprintf(err, errlen, "shared memory %s is %lld bytes: not a lurker segment (remove it: lurker-ctl --shm %s reset)",
                     name, (long long)st.st_size, name);
            return -1;
        }
        usleep(10000);
    }
    if (map_segment(fd, (size_t)st.st_size, seg, name, err, errlen) != 0)
        return -1;
    for (int tries = 0; atomic_load_explicit(&seg->hdr->magic, memory_order_acquire) != SHM_MAGIC; tries++) {
        if (tries >= 100) {
            snprintf(err, errlen, "shared memory %s has no lurker header (remove it: lurker-ctl --shm %s reset)", name, name);
            shm_detach(seg);
            return -1;
        }
        usleep(10000);
    }
    if (seg->hdr->layout_version != SHM_LAYOUT_VERSION) {
        snprintf(err, errlen,
                 "shared memory %s has layout version %u, this build uses %u: stop every lurker process of this "
                 "instance, then run: lurker-ctl --shm %s reset",
                 name, seg->hdr->layout_version, SHM_LAYOUT_VERSION, name);
        shm_detach(seg);
        return -1;
    }
    if (seg->hdr->total_size != (uint64_t)st.st_size || seg->hdr->header_size != header_bytes() ||
        queue_bytes(seg->queue->slots) + header_bytes() != seg->hdr->total_size) {
        snprintf(err, errlen, "shared memory %s has an inconsistent size (%llu bytes): run lurker-ctl --shm %s reset",
                 name, (unsigned long long)st.st_size, name);
        shm_detach(seg);
        return -1;
    }
    return 0;
}

int shm_attach(const char *name, uint32_t queue_slots, struct shm_segment *seg, char *err, size_t errlen)
{
    memset(seg, 0, sizeof *seg);
    if (valid_name(name, err, errlen) != 0)
        return -1;
    if (queue_slots == 0 || (queue_slots & (queue_slots - 1)) != 0) {
        snprintf(err, errlen, "queue_slots %u is not a power of two", queue_slots);
        return -1;
    }
    size_t size = header_bytes() + queue_bytes(queue_slots);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 && errno == EEXIST) {
        fd = shm_open(name, O_RDWR, 0);
        if (fd < 0) {
            snprintf(err, errlen, "shm_open %s: %s", name, strerror(errno));
            return -1;
        }
        int rc = validate_existing(fd, name, seg, err, errlen);
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
    int rc = map_segment(fd, size, seg, name, err, errlen);
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
    queue_init(seg->queue, queue_slots);
    atomic_store_explicit(&h->magic, SHM_MAGIC, memory_order_release);
    return 0;
}

int shm_attach_existing(const char *name, struct shm_segment *seg, char *err, size_t errlen)
{
    memset(seg, 0, sizeof *seg);
    if (valid_name(name, err, errlen) != 0)
        return -1;
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0) {
        snprintf(err, errlen, "shared memory %s: %s (is lurker running with this shm_name?)", name,
                 strerror(errno));
        return -1;
    }
    int rc = validate_existing(fd, name, seg, err, errlen);
    close(fd);
    return rc;
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

static bool pid_alive(pid_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

bool shm_process_alive(const struct shm_segment *seg, enum lurker_process p)
{
    return pid_alive(atomic_load(&seg->hdr->procs[p].pid));
}

int shm_register(struct shm_segment *seg, enum lurker_process p, char *err, size_t errlen)
{
    struct shm_process_slot *slot = &seg->hdr->procs[p];
    int32_t me = (int32_t)getpid();
    int32_t old = atomic_load(&slot->pid);
    for (;;) {
        if (old != 0 && old != me && pid_alive(old)) {
            snprintf(err, errlen, "another %s (pid %d) is running on %s", process_name(p), old, seg->name);
            return -1;
        }
        /* compare-exchange: of two processes starting at once, exactly one wins the slot */
        if (atomic_compare_exchange_strong(&slot->pid, &old, me))
            break;
    }
    atomic_store(&slot->started_ns, realtime_ns());
    atomic_store(&slot->heartbeat_ns, monotonic_ns());
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

uint64_t shm_get_key(const struct shm_segment *seg, uint8_t key[SHM_KEY_BYTES])
{
    const struct shm_header *h = seg->hdr;
    for (;;) {
        uint64_t before = atomic_load(&h->key_generation);
        if (before == 0)
            return 0;
        memcpy(key, (const void *)h->synack_key, SHM_KEY_BYTES);
        atomic_thread_fence(memory_order_acquire);
        uint64_t after = atomic_load(&h->key_generation);
        if (before == after && (before & 1) == 0)
            return before;
    }
}
