/* lurker-shipper: stores every finished pcap of the spool (local archive or S3) exactly once in effect, through
 * outages and restarts. See docs/design.md §2 and shipper/shipper.h for the engine. */

#include "background.h"
#include "cli.h"
#include "config.h"
#include "confine.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "shipper.h"
#include "shm.h"

#define DRAIN_SECONDS 10 /* SIGTERM: how long in-flight uploads may take to finish */

static void confine(const struct lurker_config *cfg)
{
    static struct shipper_policy policy;
    char err[512];
    if (shipper_policy(&policy, cfg, err, sizeof err) != 0)
        fatal("directory", err);
    if (daemon_confine(&policy.daemon, err, sizeof err) != 0)
        fatal("confinement", err);
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
    while (!daemon_stop) {
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
    daemon_catch_signals(DAEMON_IGNORE_SIGPIPE);

    struct shm_segment seg;
    daemon_join(&cfg, PROC_SHIPPER, &seg);
    confine(&cfg);

    static struct shipper engine;
    start_engine(&engine, &cfg, &seg);
    struct metrics_publisher *metrics = start_metrics(&cfg, &seg);
    ship_until_stopped(&engine, &seg);
    drain(&engine, &seg);

    metrics_stop(metrics);
    shipper_free(&engine);
    daemon_leave(&seg, PROC_SHIPPER);
    log_info("event=stopped");
    return 0;
}
