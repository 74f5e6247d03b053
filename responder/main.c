/* lurker-responder: makes every TCP port of the monitored addresses answer SYN+ACK, statelessly.
 *
 * As root: read the config, attach the tc engine's BPF program if the config asks for it (engine_tc.h), open the
 * capture handle and raw sockets, install the nftables rules, fork a small privileged supervisor that removes the
 * rules and the program when the worker exits (supervisor.h). The worker attaches the shared memory, sets a fresh
 * SYN-cookie key (and hands it to the program), drops to cfg->user with no capabilities and answers until
 * SIGTERM/SIGINT. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "answer.h"
#include "cli.h"
#include "config.h"
#include "confine.h"
#include "daemon.h"
#include "engine_tc.h"
#include "firewall.h"
#include "host_profile.h"
#include "log.h"
#include "raw_sender.h"
#include "recorder_watch.h"
#include "shm.h"
#include "supervisor.h"
#include "syn_capture.h"
#include "syncookie.h"

#define POLL_MS 200
#define DISPATCH_MAX 256
#define WAITING_POLL_MS 2

struct handles {
    const struct lurker_config *cfg;
    pcap_t *capture;
    struct raw_sender sender;
    char table[64];
    bool use_tc;                /* the tc engine answers plain SYNs; user space the rest */
    struct engine_tc tc;
    pid_t tc_owner;             /* the process that may detach it (root: the parent) */
};

static struct handles handles;

static void detach_tc(struct handles *h)
{
    char err[256];
    if (!h->use_tc || getpid() != h->tc_owner || !h->tc.attached)
        return;
    if (engine_tc_detach(&h->tc, err, sizeof err) < 0)
        log_error("event=engine_detach_failed engine=tc reason=\"%s\"", err);
    else
        log_info("event=engine_detached engine=tc handle=0x%x", (unsigned)h->tc.handle);
}

/* An exit before the supervisor exists (a capture or firewall failure) must not leave the program attached. */
static void detach_tc_at_exit(void)
{
    detach_tc(&handles);
}

static void choose_engine(const struct lurker_config *cfg, struct handles *h)
{
    char err[512];
    if (cfg->responder.engine == ENGINE_RAW)
        return;
    if (engine_tc_load(&h->tc, cfg, err, sizeof err) < 0) {
        if (cfg->responder.engine == ENGINE_TC) {
            log_error("event=engine_failed engine=tc reason=\"%s\"", err);
            exit(1);
        }
        log_warn("event=engine_fallback engine=raw wanted=auto reason=\"%s\"", err);
        return;
    }
    h->use_tc = true;
    h->tc_owner = getpid();
    atexit(detach_tc_at_exit);
    log_info("event=engine_attached engine=tc iface=%s hook=clsact_ingress handle=0x%x priority=%u", cfg->interface,
             (unsigned)h->tc.handle, (unsigned)h->tc.priority);
}

static void open_handles(const struct lurker_config *cfg, struct handles *h)
{
    char err[512];
    h->cfg = cfg;
    h->capture = syn_capture_open(cfg, h->use_tc ? SYNS_TC_LEAVES : SYNS_ALL, err, sizeof err);
    if (!h->capture)
        fatal("capture", err);
    if (raw_sender_open(&h->sender, config_has_family(cfg, AF_INET), config_has_family(cfg, AF_INET6), err,
                        sizeof err) < 0)
        fatal("raw socket", err);
}

static void install_firewall(struct handles *h)
{
    char script[16384], err[512];
    firewall_table_name(h->cfg->shm_name, h->table, sizeof h->table);
    if (firewall_install_script(h->cfg, h->table, ephemeral_ports_read(), script, sizeof script) < 0)
        fatal("firewall", "ruleset too long");
    if (firewall_apply(script, err, sizeof err) < 0)
        fatal("firewall", err);
    log_info("event=firewall_installed table=%s mode=%s", h->table,
             h->cfg->responder.firewall == FIREWALL_INGRESS  ? "ingress"
             : h->cfg->responder.firewall == FIREWALL_OUTPUT ? "output"
                                                             : "none");
}

/* Runs in the privileged supervisor right after the fork: it keeps no handle an attacker's packets reach. */
static void release_handles(void *arg)
{
    struct handles *h = arg;
    pcap_close(h->capture);
    h->capture = NULL;
    raw_sender_close(&h->sender);
    engine_tc_release(&h->tc);
}

/* Runs in the privileged supervisor once the worker has exited. */
static void remove_firewall(void *arg)
{
    struct handles *h = arg;
    char script[512], err[512];
    if (firewall_remove_script(h->cfg, h->table, script, sizeof script) < 0 || firewall_apply(script, err, sizeof err) < 0)
        log_error("event=firewall_remove_failed table=%s reason=\"%s\"", h->table, err);
    else if (script[0])
        log_info("event=firewall_removed table=%s", h->table);
}

/* Runs in the privileged supervisor once the worker has exited, however it exited. */
static void cleanup_after_worker(void *arg)
{
    detach_tc(arg);
    remove_firewall(arg);
}

static void attach_shared_memory(const struct lurker_config *cfg, struct shm_segment *seg, uint8_t key[16])
{
    char err[512];
    daemon_join(cfg, PROC_RESPONDER, seg);
    uint64_t generation = 0;
    if (shm_new_key(seg) < 0 || shm_get_key(seg, key, &generation, err, sizeof err) != 0 || generation == 0)
        fatal("shared memory", "cannot set the SYN-cookie key");
}

/* Once the parent-death signal is set again (a change of credentials clears it). */
static int bind_to_supervisor(void *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    supervisor_child_bind();
    return 0;
}

static void confine(const struct lurker_config *cfg)
{
    struct daemon_policy policy = responder_policy(cfg->user);
    policy.as_user = bind_to_supervisor;
    char err[512];
    if (daemon_confine(&policy, err, sizeof err) != 0)
        fatal("confinement", err);
}

struct dispatch_ctx {
    struct responder *r;
    int linktype;
    uint32_t coarse;
    uint64_t now_ns;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *hdr, const u_char *bytes)
{
    struct dispatch_ctx *ctx = (struct dispatch_ctx *)user;
    uint64_t ts_us = (uint64_t)hdr->ts.tv_sec * 1000000u + (uint64_t)hdr->ts.tv_usec;
    responder_handle(ctx->r, bytes, hdr->caplen, ctx->linktype, ts_us, ctx->now_ns, ctx->coarse);
}

/* Copies the worker's totals, and the tc program's, into the shared counters (they are only written here, so a
 * store is enough). */
static void publish_counters(struct shm_segment *seg, const struct responder *r, pcap_t *capture,
                             const struct engine_tc *tc)
{
    const struct answer_counts *c = &r->counts;
    struct engine_tc_totals t = {0};
    engine_tc_totals(tc, &t);
    counter_set(seg, CNT_syn_seen, c->syn_seen + t.syn_seen);
    counter_set(seg, CNT_synack_sent, r->sender->sent[PACKET_SYNACK] + t.synack_sent);
    counter_set(seg, CNT_rate_limited_global, c->rate_limited_global + t.limited_global);
    counter_set(seg, CNT_rate_limited_source, c->rate_limited_source + t.limited_source);
    counter_set(seg, CNT_port_excluded, c->port_excluded + t.port_excluded);
    counter_set(seg, CNT_send_errors, r->sender->errors);
    counter_set(seg, CNT_syn_malformed, c->malformed + t.malformed);
    counter_set(seg, CNT_tc_passed, t.passed);
    counter_set(seg, CNT_banners_sent, r->sender->sent[PACKET_BANNER]);
    counter_set(seg, CNT_acks_sent, r->sender->sent[PACKET_ACK]);
    const struct ack_path_counts *a = &r->acks.counts;
    counter_set(seg, CNT_fins_sent, r->sender->sent[PACKET_FIN]);
    counter_set(seg, CNT_cookie_invalid, a->cookie_invalid);
    counter_set(seg, CNT_cookie_invalid_ephemeral, a->cookie_invalid_ephemeral);
    counter_set(seg, CNT_data_out_of_order, a->out_of_order);
    counter_set(seg, CNT_data_duplicate, a->duplicate);
    counter_set(seg, CNT_ack_rate_limited, a->rate_limited);
    counter_set(seg, CNT_ack_flows_evicted, a->evictions);
    counter_set(seg, CNT_ack_flows_resynced, a->resyncs);
    counter_set(seg, CNT_ack_held_no_capturer, a->held_not_recording);
    struct pcap_stat ps;
    if (pcap_stats(capture, &ps) == 0)
        counter_set(seg, CNT_pcap_drops, (uint64_t)ps.ps_drop + ps.ps_ifdrop);
}

static void answer_until_stopped(struct handles *h, struct shm_segment *seg, struct responder *r)
{
    struct dispatch_ctx ctx = {.r = r, .linktype = pcap_datalink(h->capture)};
    struct pollfd pfd = {.fd = pcap_get_selectable_fd(h->capture), .events = POLLIN};
    uint64_t last_beat = 0;
    uint32_t waiting = 0;
    while (!daemon_stop) {
        /* ACKs waiting for the capturer to record their segments: look again soon */
        int ready = poll(&pfd, 1, waiting ? WAITING_POLL_MS : POLL_MS);
        if (ready < 0 && errno != EINTR) {
            log_error("event=poll_failed reason=\"%s\"", strerror(errno));
            break;
        }
        for (int rounds = 0; ready > 0 && rounds < 64; rounds++) {
            ctx.now_ns = monotonic_ns();
            ctx.coarse = syncookie_coarse_now();
            int n = pcap_dispatch(h->capture, DISPATCH_MAX, on_packet, (u_char *)&ctx);
            raw_sender_flush(&h->sender);
            if (n <= 0)
                break;
        }
        waiting = ack_path_release(r, monotonic_ns());
        raw_sender_flush(&h->sender);
        uint64_t now = monotonic_ns();
        if (now - last_beat >= 250000000ULL) {
            shm_heartbeat(seg, PROC_RESPONDER);
            engine_tc_refresh(&h->tc);
            publish_counters(seg, r, h->capture, &h->tc);
            last_beat = now;
        }
    }
    raw_sender_flush(&h->sender);
    publish_counters(seg, r, h->capture, &h->tc);
}

static void log_totals(const struct responder *r, const struct shm_segment *seg)
{
    log_info("event=stop syn_seen=%llu synack_sent=%llu limited_global=%llu limited_source=%llu not_monitored=%llu",
             (unsigned long long)r->counts.syn_seen, (unsigned long long)counter_get(seg, CNT_synack_sent),
             (unsigned long long)r->counts.rate_limited_global, (unsigned long long)r->counts.rate_limited_source,
             (unsigned long long)r->counts.not_ours);
}

int main(int argc, char **argv)
{
    static struct lurker_config cfg;
    struct cli_options opts;
    static struct responder responder;
    struct shm_segment seg;
    struct recorder_watch recorder;
    struct persona_host host;
    uint8_t key[SYNCOOKIE_KEY_BYTES];

    cli_start(argc, argv, "responder", &opts, &cfg);
    host_profile_read(cfg.interface, &host);
    struct port_range ephemeral = ephemeral_ports_read(); /* before the sandbox: a /proc read */
    choose_engine(&cfg, &handles);
    open_handles(&cfg, &handles);
    install_firewall(&handles);
    if (supervisor_fork(release_handles, cleanup_after_worker, &handles) < 0) {
        log_error("event=fork_failed reason=\"%s\"", strerror(errno));
        cleanup_after_worker(&handles);
        return 1;
    }
    daemon_catch_signals(DAEMON_IGNORE_SIGPIPE);
    attach_shared_memory(&cfg, &seg, key);
    confine(&cfg);
    if (responder_init(&responder, &cfg, &host, key, &handles.sender, monotonic_ns()) < 0)
        fatal("start", "out of memory");
    responder.acks.ephemeral = ephemeral;
    recorder_watch_init(&recorder, &seg);
    responder.acks.recording = recorder_watch_state;
    responder.acks.recording_arg = &recorder;
    engine_tc_start(&handles.tc, &cfg, &host, key, responder.ts_origin_ms, responder.ip_id);
    log_info("event=start iface=%s engine=%s persona=%s addresses=%zu mss=%u wscale=%u ack_data=%s user=\"%s\"",
             cfg.interface, handles.use_tc ? "tc" : "raw", persona_name(cfg.responder.persona), cfg.naddresses,
             host.mss_v4, host.linux_wscale, cfg.responder.ack_data ? "on" : "off", cfg.user);
    answer_until_stopped(&handles, &seg, &responder);
    engine_tc_stop(&handles.tc);
    log_totals(&responder, &seg);
    daemon_leave(&seg, PROC_RESPONDER);
    responder_free(&responder);
    recorder_watch_close(&recorder);
    raw_sender_close(&handles.sender);
    pcap_close(handles.capture);
    return 0;
}
