/* The spool-writing capturer tests' common ground (spool, writer, journal): a fresh temporary spool directory,
 * removed with everything in it afterwards; the capturer limits they start from; a queue in process memory. */
#ifndef LURKER_TESTS_CAPTURER_SPOOL_FIXTURE_H
#define LURKER_TESTS_CAPTURER_SPOOL_FIXTURE_H

#include <criterion/criterion.h>
#include <dirent.h>
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

/* Files in the spool (or its subdirectory sub, "" for none) whose names end in suffix; hidden ones not counted. */
static inline int fx_count(const struct spool_fixture *fx, const char *sub, const char *suffix)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", fx->dir, sub);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name), m = strlen(suffix);
        if (e->d_name[0] != '.' && l > m && strcmp(e->d_name + l - m, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Lines tcpdump (a real reader, not our code) prints for the spool's file name, the first one in first_line if not
 * NULL; -1 if it cannot read it. */
static inline int fx_tcpdump(const struct spool_fixture *fx, const char *name, char *first_line, size_t len)
{
    char cmd[512], line[512];
    snprintf(cmd, sizeof cmd, "tcpdump -n -r '%s/%s' 2>/dev/null", fx->dir, name);
    FILE *p = popen(cmd, "r");
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        if (n == 0 && first_line)
            snprintf(first_line, len, "%s", line);
        n++;
    }
    return pclose(p) == 0 ? n : -1;
}

#endif
