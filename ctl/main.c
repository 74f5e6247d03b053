/* lurker-ctl: reads the shared-memory segment, as varnishstat does; no process needs a control socket.
 *   lurker-ctl [-c FILE | --shm NAME] status [--json]   process table and counters; exit 1 if a process is down
 *   lurker-ctl [-c FILE | --shm NAME] status --prometheus   the same in Prometheus' text format
 *   lurker-ctl [-c FILE | --shm NAME] reset             remove the segment (only when no lurker process is alive)
 *
 * Health verdicts (the local twin of the CloudWatch alarms in infra/): every process alive with a heartbeat under
 * HEALTH_STALE_AFTER_S, and the oldest unshipped pcap younger than --max-backlog-age (default 900 s). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "health.h"
#include "shm.h"

static uint64_t max_backlog_age_s = HEALTH_MAX_BACKLOG_AGE_S;
static char sensor_label[64];

enum exit_code { EXIT_HEALTHY = 0, EXIT_UNHEALTHY = 1, EXIT_USAGE = 2, EXIT_NO_SEGMENT = 3 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lurker-ctl [-c FILE | --shm NAME] status [--json]\n"
            "       lurker-ctl [-c FILE | --shm NAME] status --prometheus\n"
            "       lurker-ctl [-c FILE | --shm NAME] reset\n"
            "  -c, --config FILE  take shm_name from this lurker.yaml (default %s)\n"
            "      --shm NAME     the segment's name, e.g. /lurker\n"
            "      --max-backlog-age S  unhealthy when the oldest unshipped pcap waited longer (default %d)\n"
            "status exits 0 when responder, capturer and shipper are alive with a heartbeat under %ds and the\n"
            "backlog is young enough, else 1; 3 when the segment does not exist.\n",
            DEFAULT_CONFIG_PATH, HEALTH_MAX_BACKLOG_AGE_S, HEALTH_STALE_AFTER_S);
}

static void status_text(const struct shm_segment *seg, const struct health *h)
{
    printf("segment %s  layout v%u  queue %llu/%u\n\n", seg->name, seg->hdr->layout_version,
           (unsigned long long)queue_depth(seg->queue), seg->queue->slots);
    printf("%-10s %8s  %-6s %10s  %s\n", "process", "pid", "alive", "heartbeat", "verdict");
    for (int p = 0; p < PROC_COUNT; p++) {
        const struct process_health s = h->procs[p];
        char age[32];
        if (s.heartbeat_age_s < 0)
            snprintf(age, sizeof age, "never");
        else
            snprintf(age, sizeof age, "%.1fs ago", s.heartbeat_age_s);
        const char *verdict = s.healthy ? "ok" : !s.pid ? "never started" : !s.alive ? "DEAD" : "STALE";
        printf("%-10s %8d  %-6s %10s  %s\n", process_name((enum lurker_process)p), s.pid, s.alive ? "yes" : "no",
               age, verdict);
    }
    printf("%-10s %8s  %-6s %10s  %s\n", "backlog", "", "", "", h->backlog_ok ? "ok" : "TOO OLD");
    printf("\n%-10s %-28s %16s  %s\n", "process", "counter", "value", "meaning");
    for (int c = 0; c < CNT_COUNT; c++)
        printf("%-10s %-28s %16llu  %s\n", process_name(counter_table[c].process), counter_table[c].name,
               (unsigned long long)counter_get(seg, (enum lurker_counter)c), counter_table[c].description);
}

static void status_json(const struct shm_segment *seg, const struct health *h)
{
    json_t *root = json_object();
    json_object_set_new(root, "segment", json_string(seg->name));
    json_object_set_new(root, "layout_version", json_integer(seg->hdr->layout_version));
    json_object_set_new(root, "queue_depth", json_integer((json_int_t)queue_depth(seg->queue)));
    json_object_set_new(root, "queue_slots", json_integer(seg->queue->slots));
    json_t *procs = json_object();
    for (int p = 0; p < PROC_COUNT; p++) {
        const struct process_health s = h->procs[p];
        json_t *o = json_object();
        json_object_set_new(o, "pid", json_integer(s.pid));
        json_object_set_new(o, "alive", json_boolean(s.alive));
        json_object_set_new(o, "heartbeat_age_s", s.heartbeat_age_s < 0 ? json_null() : json_real(s.heartbeat_age_s));
        json_object_set_new(o, "healthy", json_boolean(s.healthy));
        json_object_set_new(procs, process_name((enum lurker_process)p), o);
    }
    json_object_set_new(root, "processes", procs);
    json_t *counters = json_object();
    for (int c = 0; c < CNT_COUNT; c++)
        json_object_set_new(counters, counter_table[c].name,
                            json_integer((json_int_t)counter_get(seg, (enum lurker_counter)c)));
    json_object_set_new(root, "counters", counters);
    json_object_set_new(root, "backlog_ok", json_boolean(h->backlog_ok));
    json_object_set_new(root, "healthy", json_boolean(h->healthy));
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    putchar('\n');
    json_decref(root);
}

static int reset(const char *name)
{
    struct shm_segment seg;
    char err[CONFIG_ERR_MAX];
    /* A segment that cannot be attached (someone else's, damaged) is removed all the same: that is what reset is
     * for. A pid in a slot keeps it only while its heartbeat is fresh, so a made-up pid cannot block this. */
    if (shm_attach_readonly(name, &seg, err, sizeof err) == 0) {
        for (int p = 0; p < PROC_COUNT; p++) {
            if (shm_process_holds_slot(&seg, (enum lurker_process)p)) {
                fprintf(stderr, "lurker-ctl: %s (pid %d) is still running on %s; stop it first\n",
                        process_name((enum lurker_process)p), atomic_load(&seg.hdr->procs[p].pid), name);
                shm_detach(&seg);
                return EXIT_UNHEALTHY;
            }
        }
        shm_detach(&seg);
    }
    if (shm_remove(name) != 0) {
        perror("lurker-ctl: shm_unlink");
        return EXIT_UNHEALTHY;
    }
    printf("removed %s\n", name);
    return EXIT_HEALTHY;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"shm", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {"prometheus", no_argument, NULL, 'p'},   {"max-backlog-age", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *shm_name = NULL;
    bool json = false, prometheus = false;
    int c;
    while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 's': shm_name = optarg; break;
        case 'j': json = true; break;
        case 'p': prometheus = true; break;
        case 'b': max_backlog_age_s = strtoull(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[optind++];
    for (; optind < argc; optind++) {
        if (strcmp(argv[optind], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[optind], "--prometheus") == 0) {
            prometheus = true;
        } else {
            fprintf(stderr, "lurker-ctl: unexpected argument '%s'\n", argv[optind]);
            return EXIT_USAGE;
        }
    }

    static struct lurker_config cfg;
    char err[CONFIG_ERR_MAX];
    if (!shm_name) {
        if (config_load(config_path ? config_path : DEFAULT_CONFIG_PATH, &cfg, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return EXIT_USAGE;
        }
        shm_name = cfg.shm_name;
        snprintf(sensor_label, sizeof sensor_label, "%s", cfg.sensor_id);
    }

    if (strcmp(command, "reset") == 0)
        return reset(shm_name);
    if (strcmp(command, "status") != 0) {
        fprintf(stderr, "lurker-ctl: unknown command '%s'\n", command);
        usage(stderr);
        return EXIT_USAGE;
    }
    struct shm_segment seg;
    if (shm_attach_readonly(shm_name, &seg, err, sizeof err) != 0) {
        fprintf(stderr, "lurker-ctl: %s\n", err);
        return EXIT_NO_SEGMENT;
    }
    struct health h;
    health_read(&seg, max_backlog_age_s, &h);
    if (prometheus)
        health_write_prometheus(&seg, &h, sensor_label, stdout);
    else if (json)
        status_json(&seg, &h);
    else
        status_text(&seg, &h);
    shm_detach(&seg);
    return h.healthy ? EXIT_HEALTHY : EXIT_UNHEALTHY;
}
