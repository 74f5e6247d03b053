/* What the tc engine's BPF program (synack.bpf.c) and the responder (engine_tc.c) share: the layout of every map
 * value. Fixed-width types only, no padding surprises: both sides are compiled for the same host. */
#ifndef LURKER_RESPONDER_BPF_SYNACK_MAPS_H
#define LURKER_RESPONDER_BPF_SYNACK_MAPS_H

#include <linux/types.h>

#define SYNACK_PERSONA_LINUX 0
#define SYNACK_PERSONA_WINDOWS 1
#define SYNACK_PERSONA_FREEBSD 2

/* The one entry of the `settings` array map (mmap()ed by the responder, so the unprivileged worker writes it without
 * a bpf() call); ready == 0 makes the program pass everything to the kernel. */
struct synack_settings {
    __u64 key[2];             /* the SYN-cookie key as SipHash's k0, k1 (little-endian loads of the 16 bytes) */
    __u64 realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, refreshed by the responder: the cookie's clock */
    __u64 ts_origin_ms;       /* the persona's "uptime" at monotonic time 0 (answer.c) */
    __u64 global_rate, global_burst, source_rate, source_burst;
    __u32 persona;            /* SYNACK_PERSONA_* */
    __u32 ready;
    __u32 ip_id;              /* the Windows persona's global IP ID counter (the program increments it) */
    __u32 pad32;
    __u16 mss_v4, mss_v6;
    __u8 linux_wscale;
    __u8 pad[3];
};

/* Indexes into one CPU's block of the `stats` array (one block per possible CPU, each written only by its CPU,
 * mmap()ed by the responder, which sums them). */
enum synack_stat {
    SYNACK_STAT_SYN_SEEN,         /* SYNs to a monitored address the program looked at */
    SYNACK_STAT_SYNACK_SENT,      /* SYN+ACKs redirected to the interface's egress */
    SYNACK_STAT_LIMITED_GLOBAL,
    SYNACK_STAT_LIMITED_SOURCE,
    SYNACK_STAT_PORT_EXCLUDED,
    SYNACK_STAT_MALFORMED,        /* SYN-flagged segments with an impossible header length */
    SYNACK_STAT_PASSED,           /* SYNs to a monitored address left to user space (VLAN, IP options, fragments) */
    SYNACK_STAT_COUNT
};

struct synack_cpu_stats {
    __u64 n[8];               /* >= SYNACK_STAT_COUNT; one cache line per CPU */
};

/* Keys of the LPM tries of monitored prefixes. */
struct synack_prefix4 {
    __u32 prefixlen;
    __u8 addr[4];
};
struct synack_prefix6 {
    __u32 prefixlen;
    __u8 addr[16];
};

/* The set of answered ports: bit (port & 7) of byte (port >> 3), as struct port_set. */
struct synack_ports {
    __u8 bits[65536 / 8];
};

/* Key of the per-source bucket table: the /24 (IPv4) or /64 (IPv6), as rate_limit.c. */
struct synack_source {
    __u8 net[8];
    __u8 family;              /* 4 or 6 */
    __u8 pad[7];
};

#endif
