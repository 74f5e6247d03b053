/* The sensor's health numbers, published every metrics_interval from a thread of the shipper: to CloudWatch
 * (cfg->shipper.metrics) and/or a Prometheus textfile (cfg->shipper.prometheus_file). A thread, because one slow
 * CloudWatch request must not stall the uploads. */
#ifndef LURKER_SHIPPER_METRICS_H
#define LURKER_SHIPPER_METRICS_H

#include <stddef.h>

#include "cloudwatch.h"
#include "config.h"
#include "shm.h"

#define METRICS_MAX 32

struct metrics_publisher;

/* NULL with err[0] == '\0' when nothing is configured; NULL with a message on failure. */
struct metrics_publisher *metrics_start(const struct lurker_config *cfg, struct shm_segment *seg, char *err,
                                        size_t errlen);
void metrics_stop(struct metrics_publisher *m);

/* One round's data points from two snapshots of the counters taken interval apart (pure; for tests).
 * Returns how many were filled into out (at most METRICS_MAX). */
size_t metrics_collect(const struct shm_segment *seg, const uint64_t before[CNT_COUNT], const uint64_t now[CNT_COUNT],
                       const char *sensor_id, struct metric_datum out[METRICS_MAX]);

#endif
