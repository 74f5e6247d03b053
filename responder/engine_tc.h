/* The tc engine (responder.engine: tc | auto): the BPF program of responder/bpf/synack.bpf.c, embedded in the binary,
 * answers plain SYNs at the interface's clsact ingress hook; the user-space path keeps everything else.
 *
 * Life cycle, privileges included:
 *   root:   engine_tc_load()   - load the program, fill the maps (ports, prefixes), attach it (tc filter with a
 *                                handle derived from shm_name, so instances never touch each other's filter), and
 *                                mmap() the two maps the worker needs; no map or program descriptor stays open;
 *   worker: engine_tc_start()  - write the SYN-cookie key, clocks and persona into the mmap()ed settings, then
 *                                mark them ready (until then the program passes every packet to the kernel);
 *           engine_tc_refresh() - keep the cookie clock on CLOCK_REALTIME; engine_tc_totals() - read the counters;
 *           neither makes a system call, so the worker's seccomp profile needs no bpf();
 *   root parent (supervisor): engine_tc_detach() - remove the filter after the worker exits, however it exits. */
#ifndef LURKER_RESPONDER_ENGINE_TC_H
#define LURKER_RESPONDER_ENGINE_TC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "persona.h"

struct synack_settings;
struct synack_cpu_stats;

struct engine_tc {
    bool attached;
    int ifindex;
    uint32_t handle, priority;
    struct synack_settings *settings;   /* mmap()ed `settings` map */
    struct synack_cpu_stats *stats;     /* mmap()ed `stats` map, one block per possible CPU */
    size_t settings_len, stats_len;
    int ncpus;
};

/* What the program has done since it was attached. */
struct engine_tc_totals {
    uint64_t syn_seen, synack_sent, limited_global, limited_source, port_excluded, malformed, passed;
};

/* Loads and attaches (root). Returns 0, or -1 with the reason in err (nothing is left attached). */
int engine_tc_load(struct engine_tc *e, const struct lurker_config *cfg, char *err, size_t errlen);

/* Arms the program with the cookie key and the persona's clocks (answer.c derives them the same way). */
void engine_tc_start(struct engine_tc *e, const struct lurker_config *cfg, const struct persona_host *host,
                     const uint8_t key[16], uint64_t ts_origin_ms, uint16_t ip_id);

/* Re-reads CLOCK_REALTIME - CLOCK_MONOTONIC into the settings (the SYN cookie's coarse clock is unix time). */
void engine_tc_refresh(struct engine_tc *e);

void engine_tc_totals(const struct engine_tc *e, struct engine_tc_totals *out);

/* Disarms the program (it passes everything again): the worker's last act, so that a supervisor killed with SIGKILL
 * (which leaves the filter attached until the next start replaces it) leaves no answering program behind. */
void engine_tc_stop(struct engine_tc *e);

/* Unmaps the maps (the supervisor, which needs only the filter's identity to detach). */
void engine_tc_release(struct engine_tc *e);

/* Removes the filter (root). Returns 0, or -1 with the reason in err. */
int engine_tc_detach(struct engine_tc *e, char *err, size_t errlen);

#endif
