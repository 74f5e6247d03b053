/* The shipper's engine: learn of finished pcaps (queue records, spool scans), store each one (local archive or S3,
 * several uploads in flight through one curl multi handle), delete it from the spool only once stored, retry
 * transient failures with backoff and park permanent ones in spool/failed/.
 *
 * Delivery is at-least-once to the store and exactly-once in effect: a key is a pure function of the flow, so a
 * file stored again after a crash (stored, not yet deleted) overwrites the same object with the same bytes. */
#ifndef LURKER_SHIPPER_SHIPPER_H
#define LURKER_SHIPPER_SHIPPER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "jobs.h"
#include "keytemplate.h"
#include "s3.h"
#include "shm.h"
#include "spooldir.h"

#define SHIPPER_MAX_IN_FLIGHT 64
#define SHIPPER_RESCAN_INTERVAL_S 10 /* safety net for files the queue did not announce (queue full, lost) */

struct in_flight {
    struct job *job;
    struct s3_op *op;
    uint8_t *data;
    size_t len;
    char key[KEY_MAX];
};

struct shipper {
    const struct lurker_config *cfg;
    struct shm_segment *seg;
    struct spooldir spool;
    struct job_table jobs;
    struct s3_client *s3;      /* NULL for the local backend */
    CURLM *multi;
    struct in_flight flights[SHIPPER_MAX_IN_FLIGHT];
    size_t nflights;
    uint64_t next_rescan_ns, next_failed_retry_ns, next_gauges_ns;
    uint64_t queue_tail_seen;
    uint64_t rng;
};

/* Opens the spool and the backend. Returns 0, or -1 with a message (bad key template, spool missing, ...). */
int shipper_init(struct shipper *s, const struct lurker_config *cfg, struct shm_segment *seg, char *err,
                 size_t errlen);
/* One round: take in new work (unless draining), start what may start, collect what finished, then wait at most
 * ~200 ms for something to do. */
void shipper_tick(struct shipper *s, bool draining);
size_t shipper_in_flight(const struct shipper *s);
/* Abandons what is still in flight (the files stay in the spool) and frees everything. */
void shipper_free(struct shipper *s);

#endif
