#include "health.h"

#include <string.h>

void health_read(const struct shm_segment *seg, uint64_t max_backlog_age_s, struct health *out)
{
    memset(out, 0, sizeof *out);
    out->healthy = true;
    for (int p = 0; p < PROC_COUNT; p++) {
        struct process_health *ph = &out->procs[p];
        ph->pid = atomic_load(&seg->hdr->procs[p].pid);
        ph->alive = ph->pid > 0 && shm_process_alive(seg, (enum lurker_process)p);
        uint64_t hb = atomic_load(&seg->hdr->procs[p].heartbeat_ns);
        uint64_t now = monotonic_ns();
        ph->heartbeat_age_s = hb ? (double)(now > hb ? now - hb : 0) / 1e9 : -1;
        ph->healthy = ph->alive && ph->heartbeat_age_s >= 0 && ph->heartbeat_age_s < HEALTH_STALE_AFTER_S;
        out->healthy = out->healthy && ph->healthy;
    }
    out->backlog_ok = counter_get(seg, CNT_oldest_age) <= max_backlog_age_s;
    out->healthy = out->healthy && out->backlog_ok;
}

bool counter_is_gauge(enum lurker_counter c)
{
    const char *d = counter_table[c].description;
    size_t n = strlen(d);
    return n >= 7 && strcmp(d + n - 7, "(gauge)") == 0;
}

void health_write_prometheus(const struct shm_segment *seg, const struct health *h, const char *sensor, FILE *out)
{
    char labels[96] = "";
    if (sensor && sensor[0])
        snprintf(labels, sizeof labels, "sensor=\"%s\",", sensor); /* sensor_id is [A-Za-z0-9._-] by config */
    fprintf(out, "# HELP lurker_process_up 1 when the process is alive with a fresh heartbeat\n"
                 "# TYPE lurker_process_up gauge\n");
    for (int p = 0; p < PROC_COUNT; p++)
        fprintf(out, "lurker_process_up{%sprocess=\"%s\"} %d\n", labels, process_name((enum lurker_process)p),
                h->procs[p].healthy);
    fprintf(out, "# HELP lurker_process_heartbeat_age_seconds seconds since the process last beat (-1: never)\n"
                 "# TYPE lurker_process_heartbeat_age_seconds gauge\n");
    for (int p = 0; p < PROC_COUNT; p++)
        fprintf(out, "lurker_process_heartbeat_age_seconds{%sprocess=\"%s\"} %.3f\n", labels,
                process_name((enum lurker_process)p), h->procs[p].heartbeat_age_s);
    fprintf(out, "# HELP lurker_queue_depth finished flows announced but not yet taken by the shipper\n"
                 "# TYPE lurker_queue_depth gauge\nlurker_queue_depth{%sprocess=\"capturer\"} %llu\n",
            labels, (unsigned long long)queue_depth(seg->queue));
    for (int c = 0; c < CNT_COUNT; c++) {
        bool gauge = counter_is_gauge((enum lurker_counter)c);
        const char *suffix = gauge ? "" : "_total";
        fprintf(out, "# HELP lurker_%s%s %s\n# TYPE lurker_%s%s %s\nlurker_%s%s{%sprocess=\"%s\"} %llu\n",
                counter_table[c].name, suffix, counter_table[c].description, counter_table[c].name, suffix,
                gauge ? "gauge" : "counter", counter_table[c].name, suffix, labels,
                process_name(counter_table[c].process), (unsigned long long)counter_get(seg, (enum lurker_counter)c));
    }
    char sensor_only[96] = "";
    if (sensor && sensor[0])
        snprintf(sensor_only, sizeof sensor_only, "sensor=\"%s\"", sensor);
    fprintf(out, "# HELP lurker_healthy 1 when every verdict of lurker-ctl status is ok\n"
                 "# TYPE lurker_healthy gauge\nlurker_healthy{%s} %d\n", sensor_only, h->healthy);
}
