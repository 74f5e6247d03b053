#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "health.h"
#include "log.h"

struct metrics_publisher {
    const struct lurker_config *cfg;
    struct shm_segment *seg;
    struct aws_creds_provider *creds;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    bool last_failed; /* log a failure once, and the recovery once, not every round */
};

static void snapshot(const struct shm_segment *seg, uint64_t out[CNT_COUNT])
{
    for (int c = 0; c < CNT_COUNT; c++)
        out[c] = counter_get(seg, (enum lurker_counter)c);
}

static double delta(const uint64_t before[CNT_COUNT], const uint64_t now[CNT_COUNT], enum lurker_counter c)
{
    /* a counter that went backwards belongs to a new segment: count from zero */
    return now[c] >= before[c] ? (double)(now[c] - before[c]) : (double)now[c];
}

size_t metrics_collect(const struct shm_segment *seg, const uint64_t before[CNT_COUNT], const uint64_t now[CNT_COUNT],
                       const char *sensor_id, struct metric_datum out[METRICS_MAX])
{
    static const char *const sensor_dim[] = {"SensorId", NULL};
    size_t n = 0;
#define PUT(metric, val, unit_)                                                                                    \
    do {                                                                                                           \
        out[n] = (struct metric_datum){.name = (metric), .value = (val), .unit = (unit_)};                         \
        out[n].dim_names[0] = sensor_dim[0];                                                                       \
        out[n].dim_values[0] = sensor_id;                                                                          \
        n++;                                                                                                       \
    } while (0)
    PUT("Heartbeat", 1, "Count");
    PUT("SynSeen", delta(before, now, CNT_syn_seen), "Count");
    PUT("SynAckSent", delta(before, now, CNT_synack_sent), "Count");
    PUT("RateLimited", delta(before, now, CNT_rate_limited_global) + delta(before, now, CNT_rate_limited_source),
        "Count");
    PUT("FlowsWritten", delta(before, now, CNT_flows_written), "Count");
    PUT("FlowsIgnoredLocal", delta(before, now, CNT_flows_ignored_local), "Count"); /* the host's own traffic */
    PUT("KernelDrops", delta(before, now, CNT_kernel_drops) + delta(before, now, CNT_pcap_drops), "Count");
    PUT("FlowsFinishedEarly",
        delta(before, now, CNT_flows_early_max_flows) + delta(before, now, CNT_flows_early_memory) +
            delta(before, now, CNT_flows_cut_packets) + delta(before, now, CNT_flows_cut_bytes) +
            delta(before, now, CNT_flows_aged),
        "Count");
    PUT("FlowsDropped",
        delta(before, now, CNT_flows_dropped_quota) + delta(before, now, CNT_flows_dropped_write_error) +
            delta(before, now, CNT_flows_dropped_backlog),
        "Count");
    PUT("Uploaded", delta(before, now, CNT_uploaded), "Count");
    PUT("UploadFailures", delta(before, now, CNT_failures), "Count");
    PUT("Parked", delta(before, now, CNT_parked), "Count");
    PUT("Backlog", (double)now[CNT_backlog], "Count");
    PUT("OldestUnshippedAge", (double)now[CNT_oldest_age], "Seconds");
    struct health h;
    health_read(seg, HEALTH_MAX_BACKLOG_AGE_S, &h);
    for (int p = 0; p < PROC_COUNT; p++) {
        PUT("ProcessUp", h.procs[p].healthy ? 1 : 0, "Count");
        out[n - 1].dim_names[1] = "Process";
        out[n - 1].dim_values[1] = process_name((enum lurker_process)p);
        /* never beat: report the age as a day, so an alarm on it fires rather than reading -1 as fresh */
        PUT("HeartbeatAge", h.procs[p].heartbeat_age_s < 0 ? 86400 : h.procs[p].heartbeat_age_s, "Seconds");
        out[n - 1].dim_names[1] = "Process";
        out[n - 1].dim_values[1] = process_name((enum lurker_process)p);
    }
#undef PUT
    return n;
}

static int write_prometheus_file(const struct metrics_publisher *m, char *err, size_t errlen)
{
    const char *path = m->cfg->shipper.prometheus_file;
    char tmp[CONFIG_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = create_exclusive(tmp, 0644); /* node_exporter's user reads it; a planted link is not followed */
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct health h;
    health_read(m->seg, HEALTH_MAX_BACKLOG_AGE_S, &h);
    health_write_prometheus(m->seg, &h, m->cfg->sensor_id, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) { /* node_exporter never reads a half-written file */
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void publish(struct metrics_publisher *m, const uint64_t before[CNT_COUNT], const uint64_t now[CNT_COUNT])
{
    char err[512] = "";
    int rc = 0;
    if (m->cfg->shipper.prometheus_file[0])
        rc = write_prometheus_file(m, err, sizeof err);
    if (rc == 0 && m->cfg->shipper.metrics == METRICS_CLOUDWATCH) {
        struct metric_datum data[METRICS_MAX];
        size_t n = metrics_collect(m->seg, before, now, m->cfg->sensor_id, data);
        struct cloudwatch_target t = {m->cfg->shipper.metrics_endpoint, m->cfg->shipper.s3.region,
                                      m->cfg->shipper.metrics_namespace};
        rc = cloudwatch_put(&t, m->creds, data, n, err, sizeof err);
    }
    if (rc != 0 && !m->last_failed)
        log_warn("event=metrics_failed reason=\"%s\"", err);
    else if (rc == 0 && m->last_failed)
        log_info("event=metrics_recovered");
    m->last_failed = rc != 0;
}

static void *run(void *arg)
{
    struct metrics_publisher *m = arg;
    uint64_t before[CNT_COUNT], now[CNT_COUNT];
    snapshot(m->seg, before);
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += m->cfg->shipper.metrics_interval;
        while (!m->stopping && pthread_cond_timedwait(&m->wake, &m->lock, &until) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&m->lock);
        /* also on the way out, so the last partial interval is not lost from the sums */
        snapshot(m->seg, now);
        publish(m, before, now);
        memcpy(before, now, sizeof before);
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

struct metrics_publisher *metrics_start(const struct lurker_config *cfg, struct shm_segment *seg, char *err,
                                        size_t errlen)
{
    err[0] = '\0';
    if (cfg->shipper.metrics == METRICS_NONE && cfg->shipper.prometheus_file[0] == '\0')
        return NULL;
    struct metrics_publisher *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg = cfg;
    m->seg = seg;
    if (cfg->shipper.metrics == METRICS_CLOUDWATCH) {
        m->creds = aws_creds_new(cfg->shipper.s3.profile);
        if (!m->creds) {
            free(m);
            snprintf(err, errlen, "cannot set up AWS credentials for metrics");
            return NULL;
        }
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        snprintf(err, errlen, "cannot start the metrics thread");
        aws_creds_free(m->creds);
        free(m);
        return NULL;
    }
    log_info("event=metrics_start backend=%s interval=%us namespace=%s prometheus_file=\"%s\"",
             cfg->shipper.metrics == METRICS_CLOUDWATCH ? "cloudwatch" : "none", cfg->shipper.metrics_interval,
             cfg->shipper.metrics_namespace, cfg->shipper.prometheus_file);
    return m;
}

void metrics_stop(struct metrics_publisher *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    aws_creds_free(m->creds); /* NULL without CloudWatch: a no-op */
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->wake);
    free(m);
}
