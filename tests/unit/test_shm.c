/* The shared-memory segment: versioning, separate instances, recovery from a dead run, process slots. */
#include <criterion/criterion.h>
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

Test(shm, layout_version_mismatch_is_refused)
{
    struct shm_segment seg;
    char err[512];
    cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), 0, "%s", err);
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
    char err[512];
    cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), 0, "%s", err);
    atomic_store(&seg.hdr->magic, 0x1234);
    shm_detach(&seg);
    cr_assert_eq(shm_attach_existing(name_a, &seg, err, sizeof err), -1);
    cr_assert(strstr(err, "has no lurker header") != NULL, "%s", err);
}

Test(shm, two_instances_do_not_interfere)
{
    struct shm_segment a, b;
    char err[512];
    cr_assert_eq(shm_attach(name_a, 64, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(shm_attach(name_b, 128, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(shm_register(&a, PROC_CAPTURER, err, sizeof err), 0, "%s", err);
    cr_assert_eq(shm_register(&b, PROC_CAPTURER, err, sizeof err), 0, "a second instance's slot is its own: %s", err);
    counter_add(&a, CNT_flows_written, 5);
    struct queue_record r = {.name = "x.pcap", .proto = 6, .family = AF_INET};
    cr_assert_eq(queue_push(a.queue, &r), QUEUE_OK);
    cr_assert_eq(counter_get(&b, CNT_flows_written), 0);
    cr_assert_eq(queue_depth(b.queue), 0);
    cr_assert_eq(queue_depth(a.queue), 1);
    cr_assert_eq(b.queue->slots, 128);
    cr_assert_eq(shm_new_key(&a), 0);
    uint8_t ka[SHM_KEY_BYTES], kb[SHM_KEY_BYTES];
    cr_assert_neq(shm_get_key(&a, ka), 0);
    cr_assert_eq(shm_get_key(&b, kb), 0, "instance b has no key yet");
    shm_detach(&a);
    shm_detach(&b);
}

Test(shm, stale_segment_from_a_dead_run_is_recovered)
{
    struct shm_segment seg;
    char err[512];
    cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), 0, "%s", err);
    /* a "previous run": registers as capturer, queues a flow, counts, and dies without cleaning up */
    pid_t pid = fork();
    if (pid == 0) {
        struct shm_segment s;
        char e[512];
        if (shm_attach(name_a, 64, &s, e, sizeof e) != 0 || shm_register(&s, PROC_CAPTURER, e, sizeof e) != 0)
            _exit(1);
        struct queue_record r = {.name = "left-behind.pcap", .proto = 6, .family = AF_INET};
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
    char err[512];
    cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), 0, "%s", err);
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
    char err[512];
    uint8_t k1[SHM_KEY_BYTES], k2[SHM_KEY_BYTES];
    cr_assert_eq(shm_attach(name_a, 64, &seg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(shm_new_key(&seg), 0);
    uint64_t g1 = shm_get_key(&seg, k1);
    cr_assert_eq(shm_new_key(&seg), 0);
    uint64_t g2 = shm_get_key(&seg, k2);
    cr_assert_gt(g2, g1);
    cr_assert(memcmp(k1, k2, sizeof k1) != 0);
    shm_detach(&seg);
}
