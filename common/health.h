/* The sensor's health, read from the shared memory: the verdicts `lurker-ctl status` prints and the numbers the
 * shipper publishes as metrics (CloudWatch, Prometheus). One definition, so the local verdict and the alarms agree. */
#ifndef LURKER_HEALTH_H
#define LURKER_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shm.h"

#define HEALTH_STALE_AFTER_S 10          /* a heartbeat older than this: the process is hung */
#define HEALTH_MAX_BACKLOG_AGE_S 900     /* default: the oldest unshipped pcap may wait this long */

struct process_health {
    int pid;
    bool alive;
    double heartbeat_age_s; /* negative: never beat */
    bool healthy;           /* alive and beating */
};

struct health {
    struct process_health procs[PROC_COUNT];
    bool backlog_ok;
    bool healthy;           /* every process healthy and the backlog young enough */
};

void health_read(const struct shm_segment *seg, uint64_t max_backlog_age_s, struct health *out);

/* Whether a counter is a level (set) rather than a total (added to): its description ends in "(gauge)". */
bool counter_is_gauge(enum lurker_counter c);

/* Prometheus text format (version 0.0.4) of the health and every counter. sensor may be "" (no label). */
void health_write_prometheus(const struct shm_segment *seg, const struct health *h, const char *sensor, FILE *out);

#endif
