/* The spool-writing capturer tests' common ground (spool, writer, journal): a fresh temporary spool directory,
 * removed with everything in it afterwards; the capturer limits they start from; a queue in process memory. */
#ifndef LURKER_TESTS_CAPTURER_SPOOL_FIXTURE_H
#define LURKER_TESTS_CAPTURER_SPOOL_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "queue.h"

struct spool_fixture {
    char dir[64];
    struct capturer_config cc;
    struct lurker_queue queue;
    void *queue_memory;
};

static inline void spool_fixture_setup(struct spool_fixture *fx, const char *what, uint32_t queue_slots)
{
    snprintf(fx->dir, sizeof fx->dir, "/tmp/lurker-unit-%s-XXXXXX", what);
    cr_assert_not_null(mkdtemp(fx->dir));
    memset(&fx->cc, 0, sizeof fx->cc);
    fx->cc.flow_timeout = 60;
    fx->cc.max_flow_age = 600;
    fx->cc.max_flows = 1024;
    fx->cc.max_flow_packets = 1000;
    fx->cc.max_flow_bytes = 1 << 20;
    fx->cc.memory_limit = 1 << 26;
    fx->queue_memory = calloc(1, queue_bytes(queue_slots));
    cr_assert_not_null(fx->queue_memory);
    queue_init(&fx->queue, fx->queue_memory, queue_slots);
}

static inline void spool_fixture_teardown(struct spool_fixture *fx)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    cr_assert_eq(system(cmd), 0);
    free(fx->queue_memory);
}

#endif
