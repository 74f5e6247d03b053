/* lurker-capturer: records every flow an outsider starts with the monitored addresses (never the host's own traffic:
 * origin.h), both directions, as one pcap per flow in the spool, announced to the shipper through the shared-memory queue. See docs/design.md §2 and
 * capturer/{capture,decode,flow_table,tracker,writer,spool}.h for the parts, and journal.h / recover.h for the crash
 * journal that lets open flows survive a killed capturer. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "background.h"
#include "capture.h"
#include "cli.h"
#include "config.h"
#include "confine.h"
#include "daemon.h"
#include "ephemeral_ports.h"
#include "fsutil.h"
#include "journal.h"
#include "log.h"
#include "pcapfile.h"
#include "recover.h"
#include "shm.h"
#include "spool.h"
#include "tracker.h"
#include "writer.h"

#define TICK_US 1000000u               /* heartbeat, kernel drops */
#define PUBLISH_US 100000u             /* counters into shared memory */
#define DISPATCH_ROUNDS 64             /* pcap reads per loop turn before timers get their turn */

struct capturer {
    struct lurker_config cfg;
    struct shm_segment shm;
    pcap_t *pcap;
    struct tracker tracker;
    struct spool spool;                /* used by the writer thread only, once it runs */
    struct writer writer;
    struct journal journal;
    uint64_t flows_recovered;
    bool shutting_down;                /* every finished flow is written, whatever the writer's backlog */
    uint64_t now_us;                   /* monotonic, refreshed every loop turn */
    uint64_t processed_through_us;     /* capture time (unix us) of the latest packet read from the ring */
    uint64_t next_tick_us, next_publish_us;
    unsigned long long kernel_drops;
    uint8_t cookie_key[SHM_KEY_BYTES]; /* the responder's, copied from shared memory every second */
    uint64_t published[CNT_COUNT];     /* what the shared counters already hold from this process */
};

static uint64_t monotonic_us(void)
{
    return monotonic_ns() / 1000u;
}

static void open_capture(struct capturer *c)
{
    char err[512];
    c->pcap = capture_open(&c->cfg, err, sizeof err);
    if (c->pcap == NULL)
        fatal("capture", err);
}

/* The spool must be writable by the unprivileged user: created (and handed over) while we are still root. */
static void prepare_spool_directory(const struct lurker_config *cfg)
{
    const char *dir = cfg->spool.directory;
    struct stat st;
    if (dir[0] == '\0')
        fatal("spool directory", "empty path");
    if (stat(dir, &st) == 0)
        return; /* an existing spool is the operator's: spool_open checks it is writable */
    /* parents as needed (root-owned, 0755), the spool itself 0750 */
    char path[CONFIG_PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            fatal("spool directory", strerror(errno));
        *slash = '/';
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        fatal("spool directory", strerror(errno));
    char err[512];
    if (cfg->user[0] != '\0' && chown_dir_to_user(dir, cfg->user, err, sizeof err) != 0)
        fatal("spool directory", err);
    log_info("event=spool_created dir=%s", dir);
}

static void to_writer(void *arg, struct flow *f)
{
    struct capturer *c = arg;
    writer_submit(&c->writer, f, c->shutting_down);
}

/* As the user, before the sandbox closes: the spool's new files are the user's, the port range is a /proc read. */
static int open_spool_and_flows(void *arg, char *err, size_t errlen)
{
    struct capturer *c = arg;
    int dlt = pcap_datalink(c->pcap);
    if (spool_open(&c->spool, c->cfg.spool.directory, c->cfg.spool.quota, pcapfile_linktype_from_dlt(dlt),
                   c->cfg.capturer.snaplen, c->shm.queue, err, errlen) != 0)
        fatal("spool", err);
    spool_batch_configure(&c->spool, (uint64_t)c->cfg.capturer.batch_interval * 1000000u,
                          c->cfg.capturer.batch_max_flows, c->cfg.capturer.batch_max_bytes);
    uint8_t hash_key[16];
    if (getrandom(hash_key, sizeof hash_key, 0) != (ssize_t)sizeof hash_key)
        fatal("getrandom", strerror(errno));
    if (tracker_init(&c->tracker, &c->cfg.capturer, c->cfg.addresses, c->cfg.naddresses, dlt, hash_key, to_writer,
                     c) != 0)
        fatal("flow table", "out of memory");
    c->tracker.ephemeral = ephemeral_ports_read();
    return 0;
}

/* The writer thread is not running yet: what recovery finishes is written here, and told to the journal at once. */
static void to_spool_now(void *arg, struct flow *f)
{
    struct capturer *c = arg;
    spool_add(&c->spool, f);
}

static void journal_done_now(void *arg, uint64_t serial, uint32_t seg, const char *name)
{
    journal_flow_done(arg, serial, seg, name);
}

/* Before capture is read: every segment in the journal directory but this process's own is a dead capturer's. The
 * flows it left open go back into the flow table (journaled again by this run), so what arrives after the restart
 * continues them; those already idle for flow_timeout are written now (the ring buffers what arrives meanwhile). */
static void recover_and_start_journal(struct capturer *c)
{
    char err[512];
    int dlt = pcap_datalink(c->pcap);
    if (journal_open(&c->journal, c->spool.dirfd, c->cfg.capturer.journal, c->cfg.capturer.journal_max, dlt,
                     pcapfile_linktype_from_dlt(dlt), c->cfg.capturer.snaplen, err, sizeof err) != 0)
        fatal("journal", err);
    uint64_t now = monotonic_us();
    if (journal_start(&c->journal, now) != 0)
        log_error("event=journal_unavailable (open flows will not survive a crash until it can be written)");
    c->tracker.journal = &c->journal;
    struct recover_stats st;
    /* The journal is untrusted input: replayed after confinement, under live capture's own bounds. A live capturer
     * holds up to memory_limit in open flows and as much again in its writer's backlog (writer_start). */
    const struct replay_limits limits = {.memory_limit = 2 * c->cfg.capturer.memory_limit,
                                         .max_flow_packets = c->cfg.capturer.max_flow_packets,
                                         .max_flow_bytes = c->cfg.capturer.max_flow_bytes};
    const struct recover_adopt adopt = {.tr = &c->tracker, .now_mono_us = now, .now_real_us = realtime_ns() / 1000u};
    c->tracker.sink = to_spool_now;
    c->spool.done = journal_done_now;
    c->spool.done_arg = &c->journal;
    if (recover_journal(c->journal.dirfd, &c->spool, c->cfg.addresses, c->cfg.naddresses, &limits, &adopt, &st) != 0)
        log_error("event=journal_recovery_failed error=\"%s\"", strerror(errno));
    else if (st.segments > 0 || st.bad_segments > 0)
        log_info("event=journal_recovered flows_recovered=%llu flows_continued=%llu written_now=%llu "
                 "already_in_spool=%llu not_written=%llu "
                 "flows_done=%llu runs=%llu segments=%llu bad_segments=%llu bad_tails=%llu records=%llu "
                 "packets_skipped=%llu flows_cut=%llu memory_peak=%llu bytes=%llu",
                 (unsigned long long)st.flows_recovered, (unsigned long long)c->tracker.table.count,
                 (unsigned long long)st.flows_written_now, (unsigned long long)st.flows_present,
                 (unsigned long long)st.flows_not_written, (unsigned long long)st.flows_done,
                 (unsigned long long)st.runs, (unsigned long long)st.segments, (unsigned long long)st.bad_segments,
                 (unsigned long long)st.bad_tails, (unsigned long long)st.records,
                 (unsigned long long)st.packets_skipped, (unsigned long long)st.flows_cut,
                 (unsigned long long)st.memory_peak, (unsigned long long)st.bytes);
    c->tracker.sink = to_writer;
    c->spool.done = NULL;
    c->flows_recovered = st.flows_recovered;
    /* a killed run's unpublished batch: its members were journaled and are written again above, so its .tmp only
     * holds disk (and quota) now; without segments to replay it is kept, never the only copy deleted */
    if (st.segments > 0) {
        spool_remove_stale_batches(&c->spool);
        spool_rescan(&c->spool);
    }
}

static void confine(struct capturer *c)
{
    struct capturer_policy policy;
    capturer_policy(&policy, c->cfg.user, c->cfg.spool.directory);
    policy.daemon.as_user = open_spool_and_flows;
    policy.daemon.as_user_arg = c;
    char err[512];
    if (daemon_confine(&policy.daemon, err, sizeof err) != 0)
        fatal("confinement", err);
}

/* From here on the spool is the writer thread's. It may fall behind by as much as the table holds, no more. */
static void start_writer(struct capturer *c)
{
    if (writer_start(&c->writer, &c->spool, &c->shm, &c->journal, c->cfg.capturer.max_flows,
                     c->cfg.capturer.memory_limit) != 0)
        fatal("writer thread", strerror(errno));
}

static void on_packet(u_char *arg, const struct pcap_pkthdr *h, const u_char *bytes)
{
    struct capturer *c = (struct capturer *)arg;
    uint64_t ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
    tracker_packet(&c->tracker, ts_us, bytes, h->caplen, h->len, c->now_us);
    if (ts_us > c->processed_through_us)
        c->processed_through_us = ts_us;
}

/* Reads what the ring holds. Returns -1 when the handle failed (interface gone). */
static int read_packets(struct capturer *c)
{
    for (int round = 0; round < DISPATCH_ROUNDS; round++) {
        int n = pcap_dispatch(c->pcap, -1, on_packet, (u_char *)c);
        if (n < 0) {
            log_error("event=capture_error error=\"%s\"", pcap_geterr(c->pcap));
            return -1;
        }
        if (n == 0)
            break;
    }
    return 0;
}

/* What the responder may acknowledge (its ACK ends the client's retransmissions): the ring hands packets over in
 * arrival order, so once the journal's buffer is written out, every packet captured up to the latest one processed
 * is in the journal and a kill -9 loses none of it. */
static void publish_recorded_through(struct capturer *c)
{
    if (c->journal.buf_len == 0)
        counter_set(&c->shm, CNT_recorded_through, c->processed_through_us);
}

static void publish(struct capturer *c, enum lurker_counter cnt, uint64_t value)
{
    counter_add(&c->shm, cnt, value - c->published[cnt]);
    c->published[cnt] = value;
}

static void publish_counters(struct capturer *c)
{
    const struct tracker_stats *t = &c->tracker.stats;
    publish(c, CNT_packets, t->packets);
    publish(c, CNT_bytes, t->bytes);
    publish(c, CNT_packets_malformed, t->malformed);
    publish(c, CNT_packets_nomem, t->packets_nomem);
    publish(c, CNT_flows_started, t->flows_started);
    publish(c, CNT_flows_ignored_local, t->flows_ignored_local);
    publish(c, CNT_packets_ignored_local, t->packets_ignored_local);
    publish(c, CNT_flows_idle, t->finished[FINISH_IDLE]);
    publish(c, CNT_flows_aged, t->finished[FINISH_AGED]);
    publish(c, CNT_flows_cut_packets, t->finished[FINISH_CUT_PACKETS]);
    publish(c, CNT_flows_cut_bytes, t->finished[FINISH_CUT_BYTES]);
    publish(c, CNT_flows_early_max_flows, t->finished[FINISH_MAX_FLOWS]);
    publish(c, CNT_flows_early_memory, t->finished[FINISH_MEMORY]);
    publish(c, CNT_flows_shutdown, t->finished[FINISH_SHUTDOWN]);
    publish(c, CNT_flows_dropped_backlog, c->writer.dropped_backlog);
    publish(c, CNT_kernel_drops, c->kernel_drops);
    publish(c, CNT_flows_recovered, c->flows_recovered);
    publish(c, CNT_journal_dropped, c->journal.stats.dropped);
    counter_set(&c->shm, CNT_journal_bytes, c->journal.bytes);
    counter_set(&c->shm, CNT_flows_open, c->tracker.table.count);
    counter_set(&c->shm, CNT_memory_bytes, c->tracker.table.memory + writer_backlog_bytes(&c->writer));
    /* the spool counters are the writer thread's (writer.c) */
}

/* The responder's key, once it has set one; a key that stays mid-update keeps the last good one. It serves one rule
 * only: an outsider's ACK to one of the host's ephemeral ports is told from the host's own traffic by its SYN cookie
 * (origin.c). The capturer no longer judges handshakes (a flag in the queue record that the shipper dropped): the
 * analyzer does, from the packets. */
static void refresh_cookie_key(struct capturer *c)
{
    uint64_t generation;
    char err[256];
    if (shm_get_key(&c->shm, c->cookie_key, &generation, err, sizeof err) != 0)
        log_warn("event=cookie_key_unreadable detail=\"%s\"", err);
    else if (generation != 0)
        c->tracker.cookie_key = c->cookie_key;
}

static void run_timers(struct capturer *c)
{
    tracker_expire(&c->tracker, c->now_us);
    journal_tick(&c->journal, c->now_us);
    if (c->now_us >= c->next_tick_us) {
        c->kernel_drops = capture_kernel_drops(c->pcap);
        shm_heartbeat(&c->shm, PROC_CAPTURER);
        refresh_cookie_key(c);
        c->next_tick_us = c->now_us + TICK_US;
    }
    if (c->now_us >= c->next_publish_us) {
        publish_counters(c);
        c->next_publish_us = c->now_us + PUBLISH_US;
    }
}

/* Milliseconds until the next flow expires or a timer is due, rounded up so an expiry is never polled early. */
static int poll_timeout_ms(const struct capturer *c)
{
    uint64_t due = tracker_next_expiry(&c->tracker);
    if (c->next_publish_us < due)
        due = c->next_publish_us;
    if (c->next_tick_us < due)
        due = c->next_tick_us;
    uint64_t journal_due = journal_next_deadline(&c->journal);
    if (journal_due < due)
        due = journal_due;
    uint64_t now = monotonic_us();
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999u) / 1000u;
    return ms > 1000u ? 1000 : (int)ms;
}

static int run(struct capturer *c)
{
    struct pollfd pfd = {.fd = pcap_get_selectable_fd(c->pcap), .events = POLLIN};
    if (pfd.fd < 0)
        fatal("capture", "no selectable descriptor");
    c->now_us = monotonic_us();
    c->next_tick_us = c->next_publish_us = c->now_us;
    /* before the first packet: the ring holds what arrived while we (re)started, and an outsider's segment to an
     * ephemeral port is told from the host's own by its SYN cookie (origin.h) */
    refresh_cookie_key(c);
    while (!daemon_stop) {
        if (poll(&pfd, 1, poll_timeout_ms(c)) < 0 && errno != EINTR)
            fatal("poll", strerror(errno));
        c->now_us = monotonic_us();
        if (read_packets(c) != 0)
            return 1;
        run_timers(c);
        publish_recorded_through(c);
    }
    return 0;
}

/* SIGTERM/SIGINT: what the ring still holds, then every open flow, is written before exit. */
static void finish_everything(struct capturer *c)
{
    c->now_us = monotonic_us();
    read_packets(c);
    size_t open_flows = c->tracker.table.count;
    c->shutting_down = true;
    tracker_finish_all(&c->tracker);
    journal_flush(&c->journal, c->now_us); /* the writer publishes nothing the journal does not hold yet */
    writer_stop(&c->writer);
    journal_close(&c->journal); /* every flow is written or counted now: the journal empties */
    c->kernel_drops = capture_kernel_drops(c->pcap);
    publish_counters(c);
    log_info("event=stop flows_flushed=%zu flows_written=%llu packets=%llu kernel_drops=%llu", open_flows,
             (unsigned long long)c->spool.stats.written, (unsigned long long)c->tracker.stats.packets,
             c->kernel_drops);
}

int main(int argc, char **argv)
{
    static struct capturer c;
    struct cli_options opts;
    cli_start(argc, argv, "capturer", &opts, &c.cfg);
    open_capture(&c); /* before registering: the responder acknowledges clients' data once a capturer is registered */
    daemon_join(&c.cfg, PROC_CAPTURER, &c.shm);
    counter_set(&c.shm, CNT_recorded_through, 0); /* a dead predecessor's value says nothing about this run */
    background_scheduling(c.cfg.capturer.sched_idle, "capturer"); /* before the writer thread: it inherits it */
    daemon_catch_signals(DAEMON_IGNORE_SIGPIPE);
    prepare_spool_directory(&c.cfg);
    confine(&c); /* opens the spool as the user; before the journal, which a dead run (or anyone) left behind */
    recover_and_start_journal(&c);
    log_info("event=start interface=%s linktype=%d spool=%s spool_bytes=%llu flow_timeout=%us max_flows=%u "
             "journal=%s ephemeral_ports=%u-%u",
             c.cfg.interface, pcap_datalink(c.pcap), c.cfg.spool.directory, (unsigned long long)c.spool.bytes,
             c.cfg.capturer.flow_timeout, c.cfg.capturer.max_flows, c.cfg.capturer.journal ? "on" : "off",
             c.tracker.ephemeral.lo, c.tracker.ephemeral.hi);
    start_writer(&c);

    int rc = run(&c);
    finish_everything(&c);

    spool_close(&c.spool);
    tracker_destroy(&c.tracker);
    pcap_close(c.pcap);
    daemon_leave(&c.shm, PROC_CAPTURER);
    return rc;
}
