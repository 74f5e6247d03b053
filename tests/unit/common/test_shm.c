/* The shared-memory segment: versioning, separate instances, recovery from a dead run, process slots. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm.h"

static char name_a[64], name_b[64];

static void setup(void)
{
    snprintf(name_a, sizeof name_a, "/lurker-test-shm-a-%d", (int)getpid());
    snprintf(name_b, sizeof name_b, "/lurker-test-shm-b-%d", (int)getpid());
    shm_remove(name_a);
    shm_remove(name_b);
}

static void teardown(void)
{
    shm_remove(name_a);
    shm_remove(name_b);
}

TestSuite(shm, .init = setup, .fini = teardown);

static char err[512];

static void attach(const char *name, uint32_t slots, struct shm_segment *seg)
{
    cr_assert_eq(shm_attach(name, slots, seg, err, sizeof err), 0, "%s", err);
}

Test(shm, layout_version_mismatch_is_refused)
{
    struct shm_segment seg;
    attach(name_a, 64, &seg);
    seg.hdr->layout_version = SHM_LAYOUT_VERSION + 98;
    shm_detach(&seg);
    cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), -1);
    char want[512];
    snprintf(want, sizeof want,
             "shared memory %s has layout version %u, this build uses %u: stop every lurker process of this "
             "instance, then run: lurker-ctl --shm %s reset",
             name_a, SHM_LAYOUT_VERSION + 98, SHM_LAYOUT_VERSION, name_a);
    cr_assert_str_eq(err, want);
    cr_assert_eq(shm_attach_existing(name_a, &seg, err, sizeof err), -1);
}

Test(shm, foreign_segment_is_refused)
{
    struct shm_segment seg;
    attach(name_a, 64, &seg);
    atomic_store(&seg.hdr->magic, 0x1234);
    shm_detach(&seg);
    cr_assert_eq(shm_attach_existing(name_a, &seg, err, sizeof err), -1);
    cr_assert(strstr(err, "has no lurker header") != NULL, "%s", err);
}

Test(shm, two_instances_do_not_interfere)
{
    struct shm_segment a, b;
    attach(name_a, 64, &a);
    attach(name_b, 128, &b);
    cr_assert_eq(shm_register(&a, PROC_CAPTURER, err, sizeof err), 0, "%s", err);
    cr_assert_eq(shm_register(&b, PROC_CAPTURER, err, sizeof err), 0, "a second instance's slot is its own: %s", err);
    counter_add(&a, CNT_flows_written, 5);
    struct queue_record r = {.name = "x.pcap"};
    cr_assert_eq(queue_push(a.queue, &r), QUEUE_OK);
    cr_assert_eq(counter_get(&b, CNT_flows_written), 0);
    cr_assert_eq(queue_depth(b.queue), 0);
    cr_assert_eq(queue_depth(a.queue), 1);
    cr_assert_eq(b.queue->slots, 128);
    cr_assert_eq(shm_new_key(&a), 0);
    uint8_t ka[SHM_KEY_BYTES], kb[SHM_KEY_BYTES];
    uint64_t ga, gb;
    cr_assert_eq(shm_get_key(&a, ka, &ga, err, sizeof err), 0, "%s", err);
    cr_assert_neq(ga, 0);
    cr_assert_eq(shm_get_key(&b, kb, &gb, err, sizeof err), 0, "%s", err);
    cr_assert_eq(gb, 0, "instance b has no key yet");
    shm_detach(&a);
    shm_detach(&b);
}

Test(shm, stale_segment_from_a_dead_run_is_recovered)
{
    struct shm_segment seg;
    attach(name_a, 64, &seg);
    /* a "previous run": registers as capturer, queues a flow, counts, and dies without cleaning up */
    pid_t pid = fork();
    if (pid == 0) {
        struct shm_segment s;
        char e[512];
        if (shm_attach(name_a, 64, &s, e, sizeof e) != 0 || shm_register(&s, PROC_CAPTURER, e, sizeof e) != 0)
            _exit(1);
        struct queue_record r = {.name = "left-behind.pcap"};
        queue_push(s.queue, &r);
        counter_add(&s, CNT_flows_written, 1);
        raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status));
    shm_detach(&seg);

    /* the next run attaches, sees the dead slot, takes it over, and finds the queued flow intact */
    cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), 0, "%s", err);
    cr_assert(!shm_process_alive(&seg, PROC_CAPTURER));
    cr_assert_eq(shm_register(&seg, PROC_CAPTURER, err, sizeof err), 0, "%s", err);
    cr_assert(shm_process_alive(&seg, PROC_CAPTURER));
    struct queue_record r;
    cr_assert_eq(queue_peek(seg.queue, &r), QUEUE_OK);
    cr_assert_str_eq(r.name, "left-behind.pcap");
    cr_assert_eq(counter_get(&seg, CNT_flows_written), 1);
    shm_detach(&seg);
}

Test(shm, a_live_process_keeps_its_slot)
{
    struct shm_segment seg;
    attach(name_a, 64, &seg);
    int ready[2];
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct shm_segment s;
        char e[512];
        if (shm_attach(name_a, 64, &s, e, sizeof e) != 0 || shm_register(&s, PROC_SHIPPER, e, sizeof e) != 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    cr_assert_eq(read(ready[0], &c, 1), 1);
    cr_assert_eq(shm_register(&seg, PROC_SHIPPER, err, sizeof err), -1);
    char want[256];
    snprintf(want, sizeof want, "another shipper (pid %d) is running on %s", (int)pid, name_a);
    cr_assert_str_eq(err, want);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_eq(shm_register(&seg, PROC_SHIPPER, err, sizeof err), 0, "%s", err);
    shm_detach(&seg);
}

Test(shm, keys_differ_between_starts)
{
    struct shm_segment seg;
    attach(name_a, 64, &seg);
    uint8_t k1[SHM_KEY_BYTES], k2[SHM_KEY_BYTES];
    cr_assert_eq(shm_new_key(&seg), 0);
    uint64_t g1, g2;
    cr_assert_eq(shm_get_key(&seg, k1, &g1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(shm_new_key(&seg), 0);
    cr_assert_eq(shm_get_key(&seg, k2, &g2, err, sizeof err), 0, "%s", err);
    cr_assert_gt(g2, g1);
    cr_assert(memcmp(k1, k2, sizeof k1) != 0);
    shm_detach(&seg);
}

/* ---- a segment written by someone else: refused or survived, never a crash or a hang ---- */

/* Creates NAME as uid/gid 65534 (nobody), a complete lurker segment: what a local user can plant before lurker
 * starts, since /dev/shm is world-writable. */
static void plant_as_nobody(const char *name)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct shm_segment s;
        char e[512];
        if (setgid(65534) != 0 || setuid(65534) != 0 || shm_attach(name, 64, &s, e, sizeof e) != 0)
            _exit(1);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "planting as nobody failed");
}

Test(shm, a_segment_planted_by_another_user_is_refused_with_whose_it_is)
{
    plant_as_nobody(name_a);
    struct shm_segment seg;
    cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), -1, "a foreign segment was attached");
    cr_assert(strstr(err, "belongs to uid 65534") != NULL, "%s", err);
    char how[128];
    snprintf(how, sizeof how, "rm /dev/shm%s", name_a);
    cr_assert(strstr(err, how) != NULL, "%s", err);
    cr_assert_eq(shm_attach_readonly(name_a, &seg, err, sizeof err), -1);
}

Test(shm, a_segment_opened_to_others_is_refused)
{
    struct shm_segment seg;
    attach(name_a, 64, &seg);
    shm_detach(&seg);
    int fd = shm_open(name_a, O_RDWR, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fchmod(fd, 0666), 0);
    close(fd);
    cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), -1);
    cr_assert(strstr(err, "has mode 0666, wider than 0660") != NULL, "%s", err);
}

/* Rewrites the queue's slot count and the header's sizes so they agree with each other, and resizes the object to
 * match: the old checks (sizes consistent) pass, only the geometry itself is wrong. */
static void forge_geometry(const char *name, uint32_t slots)
{
    struct shm_segment seg;
    attach(name, 64, &seg);
    size_t header = seg.hdr->header_size;
    seg.queue->shared->slots = slots;
    size_t total = header + sizeof(struct queue_shared) + (size_t)slots * sizeof(struct queue_record);
    seg.hdr->total_size = total;
    shm_detach(&seg);
    int fd = shm_open(name, O_RDWR, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)total), 0);
    close(fd);
}

Test(shm, a_queue_of_zero_or_odd_slots_is_refused_at_attach)
{
    uint32_t bad[] = {0, 3, 100};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shm_remove(name_a);
        forge_geometry(name_a, bad[i]);
        struct shm_segment seg;
        cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), -1, "slots %u attached", bad[i]);
        cr_assert(strstr(err, "inconsistent size or queue geometry") != NULL, "%s", err);
    }
}

Test(shm, geometry_rewritten_after_attach_is_never_used)
{
    struct shm_segment producer, consumer;
    attach(name_a, 64, &producer);
    attach(name_a, 64, &consumer);
    struct queue_shared *shared = producer.queue->shared;
    /* a huge ring and indices far beyond the mapping: a write at a chosen offset, if the segment's values were used */
    shared->slots = 1u << 31;
    atomic_store(&shared->tail, 1ull << 30);
    atomic_store(&shared->head, 1ull << 30);
    struct queue_record r = {.name = "x.pcap"};
    cr_assert_eq(queue_push(producer.queue, &r), QUEUE_OK);
    struct queue_record out;
    cr_assert_eq(queue_peek(consumer.queue, &out), QUEUE_OK);
    cr_assert_str_eq(out.name, "x.pcap");
    queue_commit(consumer.queue, out.seq);
    /* zero slots after attach: the consumer's index mask would be all ones */
    shared->slots = 0;
    atomic_store(&shared->head, 0x7fffff00ull);
    atomic_store(&shared->tail, 0x7fffff05ull);
    cr_assert_eq(queue_peek(consumer.queue, &out), QUEUE_OK);
    cr_assert_eq(producer.queue->slots, 64);
    shm_detach(&producer);
    shm_detach(&consumer);
}

Test(shm, a_key_generation_left_odd_is_a_clean_error, .timeout = 10)
{
    struct shm_segment seg;
    attach(name_a, 64, &seg);
    cr_assert_eq(shm_new_key(&seg), 0);
    uint8_t key[SHM_KEY_BYTES], before[SHM_KEY_BYTES];
    uint64_t gen;
    cr_assert_eq(shm_get_key(&seg, key, &gen, err, sizeof err), 0, "%s", err);
    memcpy(before, key, sizeof key);
    atomic_store(&seg.hdr->key_generation, 7);
    memset(seg.hdr->synack_key, 0xee, SHM_KEY_BYTES);
    cr_assert_eq(shm_get_key(&seg, key, &gen, err, sizeof err), -1);
    cr_assert(strstr(err, "stays mid-update (generation 7)") != NULL, "%s", err);
    cr_assert(memcmp(key, before, sizeof key) == 0, "a torn key was handed out");
    /* a new key from the responder repairs it */
    cr_assert_eq(shm_new_key(&seg), 0);
    cr_assert_eq(shm_get_key(&seg, key, &gen, err, sizeof err), 0, "%s", err);
    cr_assert_eq(gen % 2, 0);
    shm_detach(&seg);
}

Test(shm, a_made_up_pid_does_not_hold_a_slot_for_ever)
{
    struct shm_segment seg;
    attach(name_a, 64, &seg);
    struct shm_process_slot *slot = &seg.hdr->procs[PROC_CAPTURER];
    /* pid 1 always exists; its heartbeat never moved */
    atomic_store(&slot->pid, 1);
    atomic_store(&slot->started_ns, realtime_ns());
    atomic_store(&slot->heartbeat_ns, 0);
    cr_assert(!shm_process_holds_slot(&seg, PROC_CAPTURER));
    cr_assert_eq(shm_register(&seg, PROC_CAPTURER, err, sizeof err), 0, "%s", err);
    /* a heartbeat in the future is made up too */
    atomic_store(&slot->pid, 1);
    atomic_store(&slot->heartbeat_ns, monotonic_ns() + 3600ull * 1000000000ull);
    cr_assert_eq(shm_register(&seg, PROC_CAPTURER, err, sizeof err), 0, "%s", err);
    /* a pid handed to a process that started after the registration (pid reuse) */
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    atomic_store(&slot->pid, child);
    atomic_store(&slot->started_ns, 1000000000ull); /* registered in 1970 */
    atomic_store(&slot->heartbeat_ns, monotonic_ns());
    cr_assert(!shm_process_alive(&seg, PROC_CAPTURER));
    cr_assert_eq(shm_register(&seg, PROC_CAPTURER, err, sizeof err), 0, "%s", err);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    /* a live pid with a fresh heartbeat and a plausible registration: a clean refusal that names it */
    atomic_store(&slot->pid, 1);
    atomic_store(&slot->started_ns, realtime_ns());
    atomic_store(&slot->heartbeat_ns, monotonic_ns());
    cr_assert_eq(shm_register(&seg, PROC_CAPTURER, err, sizeof err), -1);
    cr_assert(strstr(err, "another capturer (pid 1)") != NULL, "%s", err);
    shm_detach(&seg);
}
