/* The finished-flow queue between two real processes: a million records with no loss, no duplicate and order kept,
 * also when the consumer or the producer is killed with SIGKILL in the middle. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm.h"

#define RECORDS 1000000ULL
#define SLOTS 4096

static char shm_name[64];
static struct shm_segment seg;

static void setup(void)
{
    char err[256];
    snprintf(shm_name, sizeof shm_name, "/lurker-test-queue-%d", (int)getpid());
    shm_remove(shm_name);
    cr_assert_eq(shm_attach(shm_name, SLOTS, &seg, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
    shm_detach(&seg);
    shm_remove(shm_name);
}

static struct queue_record record_for(uint64_t id)
{
    struct queue_record r;
    memset(&r, 0, sizeof r);
    static const uint8_t remote[4] = {198, 51, 100, 2}, local[4] = {203, 0, 113, 10};
    r.version = QUEUE_RECORD_VERSION;
    r.key.first_us = r.last_us = id;
    r.key.id = (struct flow_id){.proto = IPPROTO_TCP, .remote_port = 40000, .local_port = 22};
    ip_addr_from_v4(&r.key.id.remote, remote);
    ip_addr_from_v4(&r.key.id.local, local);
    cr_assert_eq(spool_name_format(&r.key, r.name, sizeof r.name), 0);
    r.packets = id; /* the payload the consumer checks */
    return r;
}

/* Pushes ids from the queue's current tail to RECORDS-1 (so a restarted producer resumes where the dead one
 * published its last record), waiting while the queue is full. */
static void produce(void)
{
    for (uint64_t id = atomic_load(&seg.queue->shared->tail); id < RECORDS;) {
        struct queue_record r = record_for(id);
        if (queue_push(seg.queue, &r) == QUEUE_OK)
            id++;
        else
            usleep(100);
    }
    _exit(0);
}

/* Consumes until RECORDS have been retired, appending (seq, id) to fd before each commit. A restarted consumer
 * skips what the file already holds: the at-least-once contract of queue.h. */
static void consume(int fd)
{
    uint64_t last_done = UINT64_MAX;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size >= 16) {
        uint64_t entry[2];
        if (pread(fd, entry, sizeof entry, size - 16) != 16)
            _exit(3);
        last_done = entry[0];
    }
    while (atomic_load(&seg.queue->shared->head) < RECORDS) {
        struct queue_record r;
        if (queue_peek(seg.queue, &r) != QUEUE_OK) {
            queue_wait(seg.queue, 100);
            continue;
        }
        if (!queue_record_valid(&r))
            _exit(4);
        if (last_done == UINT64_MAX || r.seq > last_done) {
            uint64_t entry[2] = {r.seq, r.packets};
            if (write(fd, entry, sizeof entry) != sizeof entry)
                _exit(5);
            last_done = r.seq;
        }
        queue_commit(seg.queue, r.seq);
    }
    _exit(0);
}

static pid_t spawn(void (*fn)(void), int fd, void (*fn_fd)(int))
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (fn)
            fn();
        fn_fd(fd);
    }
    return pid;
}

static void wait_ok(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

static void kill_when(_Atomic uint64_t *counter, uint64_t at, pid_t pid)
{
    while (atomic_load(counter) < at)
        usleep(200);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void check_output(int fd)
{
    off_t size = lseek(fd, 0, SEEK_END);
    cr_assert_eq(size, (off_t)(RECORDS * 16), "output holds %lld entries, want %llu", (long long)size / 16,
                 RECORDS);
    static uint64_t entries[2 * 65536];
    uint64_t expect = 0;
    for (off_t off = 0; off < size;) {
        ssize_t n = pread(fd, entries, sizeof entries, off);
        cr_assert_gt(n, 0);
        for (ssize_t i = 0; i < n / 16; i++, expect++) {
            cr_assert_eq(entries[2 * i], expect, "seq %llu where %llu expected", (unsigned long long)entries[2 * i],
                         (unsigned long long)expect);
            cr_assert_eq(entries[2 * i + 1], expect, "id %llu where %llu expected",
                         (unsigned long long)entries[2 * i + 1], (unsigned long long)expect);
        }
        off += n;
    }
}

static int output_file(void)
{
    char path[] = "/tmp/lurker-queue-out-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    return fd;
}

static void producer_entry(int fd)
{
    (void)fd;
    produce();
}

TestSuite(queue, .init = setup, .fini = teardown, .timeout = 120);

/* A producer and a consumer process; with a counter, the one that moves it (consumer: head, producer: tail) is
 * killed at a third of the records and replaced. Every record arrives once, in order. */
static void two_processes(_Atomic uint64_t *counter, bool consumer_dies)
{
    int fd = output_file();
    pid_t pids[2] = {spawn(NULL, fd, producer_entry), spawn(NULL, fd, consume)};
    if (counter != NULL) {
        kill_when(counter, RECORDS / 3, pids[consumer_dies]);
        pids[consumer_dies] = spawn(NULL, fd, consumer_dies ? consume : producer_entry);
    }
    wait_ok(pids[0]);
    wait_ok(pids[1]);
    check_output(fd);
    close(fd);
}

Test(queue, million_records_between_two_processes)
{
    two_processes(NULL, false);
    cr_assert_eq(atomic_load(&seg.queue->shared->pushed_total), RECORDS);
}

Test(queue, consumer_killed_midway_then_replaced)
{
    two_processes(&seg.queue->shared->head, true);
}

Test(queue, producer_killed_midway_then_replaced)
{
    two_processes(&seg.queue->shared->tail, false);
}

Test(queue, full_queue_is_reported_not_overwritten)
{
    for (uint64_t i = 0; i < SLOTS; i++) {
        struct queue_record r = record_for(i);
        cr_assert_eq(queue_push(seg.queue, &r), QUEUE_OK, "push %llu", (unsigned long long)i);
    }
    struct queue_record extra = record_for(SLOTS);
    cr_assert_eq(queue_push(seg.queue, &extra), QUEUE_FULL);
    cr_assert_eq(atomic_load(&seg.queue->shared->full_total), 1);
    struct queue_record head;
    cr_assert_eq(queue_peek(seg.queue, &head), QUEUE_OK);
    cr_assert_eq(head.packets, 0, "the oldest record was overwritten");
    queue_commit(seg.queue, head.seq);
    cr_assert_eq(queue_push(seg.queue, &extra), QUEUE_OK);
    cr_assert_eq(queue_depth(seg.queue), SLOTS);
}

Test(queue, wait_wakes_on_push_from_another_process)
{
    pid_t pid = fork();
    if (pid == 0) {
        usleep(200000);
        struct queue_record r = record_for(7);
        queue_push(seg.queue, &r);
        _exit(0);
    }
    uint64_t start = monotonic_ns();
    bool ready = false;
    while (!ready && monotonic_ns() - start < 5000000000ULL)
        ready = queue_wait(seg.queue, 5000);
    cr_assert(ready);
    wait_ok(pid);
}

Test(queue, hostile_records_are_rejected)
{
    struct queue_record r = record_for(1);
    cr_assert(queue_record_valid(&r));
    struct queue_record bad = r;
    memset(bad.name, 'a', sizeof bad.name); /* no terminator */
    cr_assert(!queue_record_valid(&bad));
    bad = r;
    snprintf(bad.name, sizeof bad.name, "../../../etc/passwd");
    cr_assert(!queue_record_valid(&bad));
    bad = r;
    snprintf(bad.name, sizeof bad.name, ".hidden");
    cr_assert(!queue_record_valid(&bad));
    bad = r;
    bad.name[0] = '\0';
    cr_assert(!queue_record_valid(&bad));
    bad = r;
    bad.key.id.proto = 99; /* the queue carries TCP, UDP and ICMP flows only */
    spool_name_format(&bad.key, bad.name, sizeof bad.name);
    cr_assert(!queue_record_valid(&bad));
    bad = r;
    bad.key.id.remote_port = 40001; /* the name says another flow */
    cr_assert(!queue_record_valid(&bad));
    bad = r;
    bad.version = QUEUE_RECORD_VERSION + 1; /* another build's capturer */
    cr_assert(!queue_record_valid(&bad));
    bad = r;
    bad.key.first_us = 10;
    bad.last_us = 5;
    spool_name_format(&bad.key, bad.name, sizeof bad.name);
    cr_assert(!queue_record_valid(&bad));
}
