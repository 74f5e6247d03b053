#include "run.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inputs.h"
#include "mapped_file.h"
#include "record.h"

#define PROGRESS_AFTER_SECONDS 2.0
#define PROGRESS_EVERY_SECONDS 0.5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void analysis_run_init(struct run *r, FILE *out)
{
    memset(r, 0, sizeof *r);
    r->analyze.max_payload = ANALYZER_DEFAULT_MAX_PAYLOAD;
    r->analyze.input_shrank = &mapped_file_shrank;
    r->out = out;
    r->progress = isatty(STDERR_FILENO);
    r->started = now();
}

/* Records are gathered into writes this large (stdout is unbuffered: main.c). */
#define RUN_WRITE_CHUNK (256u * 1024)

static void write_pending(struct run *r)
{
    if (r->pending.len)
        fwrite(r->pending.s, 1, r->pending.len, r->out);
    r->pending.len = 0;
}

static int write_record(const struct record *record, void *arg)
{
    struct run *r = arg;
    r->flows++;
    if (r->report)
        return report_add(r->report, record) != 0;
    if (r->summary)
        return summary_add(r->summary, record) != 0;
    if (record_append_line(record, &r->pending) == 0 && r->pending.len >= RUN_WRITE_CHUNK)
        write_pending(r);
    return 0;
}

static void show_progress(struct run *r)
{
    double t = now();
    if (!r->progress || t - r->started < PROGRESS_AFTER_SECONDS || t - r->last_progress < PROGRESS_EVERY_SECONDS)
        return;
    r->last_progress = t;
    fprintf(stderr, "\r%llu pcaps, %llu flows, %.1f MB, %.1f MB/s ", (unsigned long long)r->inputs,
            (unsigned long long)r->flows, (double)r->bytes / 1e6, (double)r->bytes / 1e6 / (t - r->started));
    fflush(stderr);
}

int analysis_run_pcap(struct run *r, const char *name, int key_start, const uint8_t *data, size_t len)
{
    char sensor[64] = "";
    if (r->sensor)
        snprintf(sensor, sizeof sensor, "%s", r->sensor);
    else if (name)
        sensor_from_path(key_start >= 0 ? name + key_start : name, key_start >= 0, sensor, sizeof sensor);
    struct analyze_source src = { .s3path = name, .sensor = sensor[0] ? sensor : NULL };
    struct analyze_stats stats;
    r->inputs++;
    r->bytes += len;
    int rc = analyze_pcap(data, len, &r->analyze, &src, write_record, r, &stats);
    write_pending(r);
    fflush(r->out);
    const char *shown = name ? name : "(stdin)";
    if (rc != 0) {
        if (r->last_progress > 0)
            fputc('\n', stderr);
        fprintf(stderr, "lurker-analyzer: %s: %s\n", shown, stats.error);
        snprintf(r->last_error, sizeof r->last_error, "%.200s", stats.error);
        r->failed++;
        return 1;
    }
    if (stats.truncated || stats.error[0]) {
        if (r->last_progress > 0)
            fputc('\n', stderr);
        fprintf(stderr, "lurker-analyzer: %s: truncated: %s (%llu packets before it were analysed)\n", shown,
                stats.error, (unsigned long long)stats.packets);
        snprintf(r->last_error, sizeof r->last_error, "truncated: %.200s", stats.error);
        r->failed++;
        return 1;
    }
    show_progress(r);
    return 0;
}

void analysis_run_finish(struct run *r)
{
    if (r->last_progress > 0)
        fputs("\r\033[K", stderr);
    record_buffer_free(&r->pending);
}
