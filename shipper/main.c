/* lurker-shipper: stores every finished pcap of the spool (local archive or S3) exactly once in effect, through
 * outages and restarts. See docs/design.md §2 and shipper/shipper.h for the engine. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "background.h"
#include "cli.h"
#include "config.h"
#include "confine.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"
#include "privdrop.h"
#include "shipper.h"
#include "shm.h"

#define DRAIN_SECONDS 10 /* SIGTERM: how long in-flight uploads may take to finish */

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static _Noreturn void fatal(const char *what, const char *detail)
{
    log_error("event=fatal what=\"%s\" detail=\"%s\"", what, detail);
    exit(1);
}

static void join_shared_memory(const struct lurker_config *cfg, struct shm_segment *seg)
{
    char err[CONFIG_ERR_MAX];
    if (shm_attach(cfg->shm_name, cfg->queue_slots, seg, err, sizeof err) < 0)
        fatal("shared memory", err);
    if (shm_register(seg, PROC_SHIPPER, err, sizeof err) < 0)
        fatal("shared memory", err);
}

/* The shipper needs no privilege; when started as root it becomes the configured user. Then it may write only in
 * the spool, the archive and the Prometheus file's directory, and read only those and what S3 needs (Landlock;
 * shipper/confine.h), with HTTP(S) sockets, files and threads and nothing else (seccomp; common/sandbox.h). */
static void drop_privileges(const struct lurker_config *cfg)
{
    char err[512];
    static char prom_dir[CONFIG_PATH_MAX];
    const char *writable[3];
    size_t n = 0;
    writable[n++] = cfg->spool.directory;
    if (cfg->shipper.storage == STORAGE_LOCAL)
        writable[n++] = cfg->shipper.archive_dir;
    if (cfg->shipper.prometheus_file[0]) {
        snprintf(prom_dir, sizeof prom_dir, "%s", cfg->shipper.prometheus_file);
        char *slash = strrchr(prom_dir, '/');
        if (slash && slash != prom_dir)
            *slash = '\0';
        else
            snprintf(prom_dir, sizeof prom_dir, "%s", slash ? "/" : ".");
        writable[n++] = prom_dir;
    }
    /* Landlock rules name existing directories: make them (as root, for the user) before the drop. One that cannot
     * be made is a reason not to start: the rule would have to name a wider directory (up to "/"), and that is not
     * confinement. The files wait in the spool; supervisord retries the start until the path is fixed. */
    for (size_t i = 0; i < n; i++)
        if (dir_prepare(writable[i], geteuid() == 0 ? cfg->user : "", err, sizeof err) != 0)
            fatal("directory", err);
    if (geteuid() == 0 && privdrop(cfg->user, err, sizeof err) < 0)
        fatal("privdrop", err);
    if (shipper_confine(writable, n, err, sizeof err) < 0)
        fatal("confine", err);
}

static struct metrics_publisher *start_metrics(const struct lurker_config *cfg, struct shm_segment *seg)
{
    char err[512];
    struct metrics_publisher *m = metrics_start(cfg, seg, err, sizeof err);
    if (!m && err[0])
        fatal("metrics", err);
    return m;
}

static void start_engine(struct shipper *s, const struct lurker_config *cfg, struct shm_segment *seg)
{
    char err[CONFIG_ERR_MAX];
    if (shipper_init(s, cfg, seg, err, sizeof err) < 0)
        fatal("start", err);
    const struct shipper_config *sc = &cfg->shipper;
    if (sc->storage == STORAGE_S3)
        log_info("event=start storage=s3 bucket=%s prefix=\"%s\" endpoint=\"%s\" path_style=%s concurrency=%u "
                 "spool=%s",
                 sc->s3.bucket, sc->s3.prefix, sc->s3.endpoint, sc->s3.path_style ? "yes" : "no", sc->concurrency,
                 cfg->spool.directory);
    else
        log_info("event=start storage=local archive_dir=%s spool=%s", sc->archive_dir, cfg->spool.directory);
}

static void ship_until_stopped(struct shipper *s, struct shm_segment *seg)
{
    while (!stop_requested) {
        shm_heartbeat(seg, PROC_SHIPPER);
        shipper_tick(s, false);
    }
}

/* Lets in-flight uploads finish (bounded); whatever is left stays in the spool for the next start. */
static void drain(struct shipper *s, struct shm_segment *seg)
{
    uint64_t deadline = monotonic_ns() + DRAIN_SECONDS * 1000000000ull;
    log_info("event=stopping in_flight=%zu", shipper_in_flight(s));
    while (shipper_in_flight(s) > 0 && monotonic_ns() < deadline) {
        shm_heartbeat(seg, PROC_SHIPPER);
        shipper_tick(s, true);
    }
}

int main(int argc, char **argv)
{
    struct cli_options opts;
    static struct lurker_config cfg;
    cli_start(argc, argv, "shipper", &opts, &cfg);
    background_scheduling(cfg.shipper.sched_idle, "shipper"); /* before its upload threads: they inherit it */
    install_signal_handlers();

    struct shm_segment seg;
    join_shared_memory(&cfg, &seg);
    drop_privileges(&cfg);

    static struct shipper engine;
    start_engine(&engine, &cfg, &seg);
    struct metrics_publisher *metrics = start_metrics(&cfg, &seg);
    ship_until_stopped(&engine, &seg);
    drain(&engine, &seg);

    metrics_stop(metrics);
    shipper_free(&engine);
    shm_unregister(&seg, PROC_SHIPPER);
    shm_detach(&seg);
    log_info("event=stopped");
    return 0;
}
