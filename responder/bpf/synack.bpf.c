/* The tc engine: at clsact ingress, each plain SYN to a monitored address is rewritten in place into the SYN+ACK the
 * raw engine would send (persona.c's option layouts, packet_build.c's headers, syncookie.c's ISN, answer.c's clocks
 * and rate_limit.c's buckets, transcribed), its MACs swapped, and redirected to the same interface's egress, where
 * the capturer's packet tap records it like any sent packet.
 *
 * Anything unusual (a VLAN tag, IPv4 options or fragments, IPv6 extension headers, a frame not addressed to this
 * host) goes on unchanged (LEAVE): the responder's own capture still sees those SYNs and the raw engine answers
 * them, or not, exactly as before. Checksums are computed whole over the rebuilt headers (they are small). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "synack_maps.h"

#define NS_PER_S 1000000000ULL
#define NS_PER_MS 1000000ULL
#define COOKIE_SLOT_NS (64ULL * NS_PER_S) /* SYNCOOKIE_SLOT_SECONDS */
#define OPTIONS_MAX 40
#define PACKET_HOST 0
/* "not handled here": the next tc filter (another instance's) runs, then the kernel's own path */
#define LEAVE TC_ACT_UNSPEC
#define HEADERS_MAX (ETH_HLEN + 40 + 60)

struct tokens {
    __u64 nanotokens;         /* tokens * 1e9, as struct token_bucket */
    __u64 last_ns;
};

/* the global bucket is shared by every CPU: updated under its lock */
struct bucket {
    struct bpf_spin_lock lock;
    struct tokens t;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, struct synack_settings);
} settings SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct synack_ports);
} ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 256);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct synack_prefix4);
    __type(value, __u8);
} monitored4 SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 256);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct synack_prefix6);
    __type(value, __u8);
} monitored6 SEC(".maps");

/* max_entries is set to the number of possible CPUs before loading */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, struct synack_cpu_stats);
} stats SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct bucket);
} global_bucket SEC(".maps");

/* max_entries is set from responder.source_buckets before loading; the least recently used network goes first.
 * An LRU map cannot hold a spin lock: two CPUs answering the same network at the same instant may both take its
 * last token (one extra SYN+ACK per CPU at most, never a refill faster than the rate). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct synack_source);
    __type(value, struct tokens);
} source_buckets SEC(".maps");

_Static_assert(SYNACK_STAT_COUNT <= 8, "one cache line of counters per CPU");

static __always_inline void count(__u32 which)
{
    __u32 cpu = bpf_get_smp_processor_id();
    struct synack_cpu_stats *v = bpf_map_lookup_elem(&stats, &cpu);
    if (v)
        v->n[which & 7] += 1;
}

/* ---- SipHash-2-4 over the 40-byte cookie message (common/syncookie.c) ---- */

static __always_inline __u64 rotl(__u64 x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                                   \
    do {                                                                                                           \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);                                                  \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                                                     \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                                                     \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);                                                  \
    } while (0)

static __always_inline __u64 load_le64(const __u8 *p)
{
    __u64 v = 0;
#pragma unroll
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* msg = src[16] | dst[16] | sport (BE) | dport (BE) | coarse (LE): five full words, then the length block */
static __always_inline __u32 cookie_hash(const struct synack_settings *s, const __u8 msg[40])
{
    __u64 v0 = 0x736f6d6570736575ULL ^ s->key[0];
    __u64 v1 = 0x646f72616e646f6dULL ^ s->key[1];
    __u64 v2 = 0x6c7967656e657261ULL ^ s->key[0];
    __u64 v3 = 0x7465646279746573ULL ^ s->key[1];
#pragma unroll
    for (int i = 0; i < 5; i++) {
        __u64 m = load_le64(msg + 8 * i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    __u64 last = 40ULL << 56;
    v3 ^= last;
    SIPROUND;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return (__u32)(v0 ^ v1 ^ v2 ^ v3);
}

static __always_inline void set_coarse(__u8 msg[40], __u32 coarse)
{
    msg[36] = (__u8)coarse;
    msg[37] = (__u8)(coarse >> 8);
    msg[38] = (__u8)(coarse >> 16);
    msg[39] = (__u8)(coarse >> 24);
}

/* ---- token buckets (rate_limit.c) ---- */

/* Refills for the time since the last call; true if a whole token is there. */
static __always_inline int bucket_ready(struct tokens *b, __u64 rate, __u64 burst, __u64 now)
{
    if (now > b->last_ns) {
        __u64 cap = burst * NS_PER_S;
        __u64 elapsed = now - b->last_ns;
        if (elapsed >= cap / rate + 1)
            b->nanotokens = cap;
        else if (b->nanotokens + elapsed * rate > cap)
            b->nanotokens = cap;
        else
            b->nanotokens += elapsed * rate;
        b->last_ns = now;
    }
    return b->nanotokens >= NS_PER_S;
}

static __always_inline void bucket_take(struct tokens *b)
{
    if (b->nanotokens >= NS_PER_S)
        b->nanotokens -= NS_PER_S;
}

enum verdict { PASS, LIMITED_GLOBAL, LIMITED_SOURCE };

/* As rate_limiter_check: when PASS, one token was taken from both buckets; otherwise none was. */
static __always_inline enum verdict rate_check(const struct synack_settings *s, const struct synack_source *net,
                                               __u64 now)
{
    __u32 zero = 0;
    struct bucket *g = bpf_map_lookup_elem(&global_bucket, &zero);
    if (!g)
        return LIMITED_GLOBAL;
    bpf_spin_lock(&g->lock);
    if (g->t.last_ns == 0) { /* first SYN: a full bucket, as token_bucket_init */
        g->t.nanotokens = s->global_burst * NS_PER_S;
        g->t.last_ns = now;
    }
    int ready = bucket_ready(&g->t, s->global_rate, s->global_burst, now);
    bpf_spin_unlock(&g->lock);
    if (!ready)
        return LIMITED_GLOBAL;

    struct tokens *b = bpf_map_lookup_elem(&source_buckets, net);
    if (!b) {
        struct tokens fresh = {.nanotokens = s->source_burst * NS_PER_S, .last_ns = now};
        bpf_map_update_elem(&source_buckets, net, &fresh, BPF_NOEXIST);
        b = bpf_map_lookup_elem(&source_buckets, net);
        if (!b)
            return LIMITED_SOURCE;
    }
    if (!bucket_ready(b, s->source_rate, s->source_burst, now))
        return LIMITED_SOURCE;
    bucket_take(b);

    bpf_spin_lock(&g->lock);
    bucket_take(&g->t);
    bpf_spin_unlock(&g->lock);
    return PASS;
}

/* ---- the SYN's offer (common/decode.c's tcp_options_parse) ---- */

struct offer {
    __u8 has_wscale, sack_permitted, has_timestamp;
    __u32 ts_val;
};

/* One option per bpf_loop() step: the callback is verified once, whatever the option sequence. */
struct option_walk {
    __u8 bytes[OPTIONS_MAX];
    __u32 len, at;
    struct offer *offer;
};

static long option_step(__u32 n, void *arg)
{
    struct option_walk *w = arg;
    (void)n;
    __u32 i = w->at;
    if (i >= w->len || i >= OPTIONS_MAX)
        return 1;
    __u8 kind = w->bytes[i];
    if (kind == 0) /* EOL */
        return 1;
    if (kind == 1) { /* NOP */
        w->at = i + 1;
        return 0;
    }
    if (i + 1 >= w->len || i + 1 >= OPTIONS_MAX)
        return 1;
    __u8 olen = w->bytes[i + 1];
    if (olen < 2 || i + olen > w->len)
        return 1;
    if (kind == 3 && olen == 3) {
        w->offer->has_wscale = 1;
    } else if (kind == 4 && olen == 2) {
        w->offer->sack_permitted = 1;
    } else if (kind == 8 && olen == 10 && i + 6 <= OPTIONS_MAX) {
        w->offer->has_timestamp = 1;
        w->offer->ts_val = (__u32)w->bytes[i + 2] << 24 | (__u32)w->bytes[i + 3] << 16 |
                           (__u32)w->bytes[i + 4] << 8 | w->bytes[i + 5];
    }
    w->at = i + olen;
    return 0;
}

/* The offer of the len (0, 4, 8 .. 40) option bytes at packet offset off. */
static __always_inline void parse_options(struct __sk_buff *skb, __u32 off, __u32 len, struct offer *o)
{
    struct option_walk w = {.len = len, .offer = o};
    /* a range check, not `len == 0`: the 6.1 verifier learns no lower bound from a != 0 branch and refuses the load
     * as "invalid zero-sized read". len is a multiple of 4 (doff * 4 - 20), so `< 4` means none; the barrier keeps
     * the compiler from using that to turn it back into `== 0` */
    asm volatile("" : "+r"(len));
    if (len < 4 || len > OPTIONS_MAX || bpf_skb_load_bytes(skb, off, w.bytes, len) < 0)
        return;
    bpf_loop(OPTIONS_MAX, option_step, &w, 0);
}

/* ---- the persona's options and header values (persona.c's *_synack) ---- */

struct shape {
    __u8 ttl, ipid_increments;
    __u16 window;
    __u8 options[OPTIONS_MAX];
    __u32 len;
};

static __always_inline void put(struct shape *sh, __u8 byte)
{
    if (sh->len < OPTIONS_MAX)
        sh->options[sh->len & 63] = byte;
    sh->len++;
}

static __always_inline void put_mss(struct shape *sh, __u16 mss)
{
    put(sh, 2);
    put(sh, 4);
    put(sh, (__u8)(mss >> 8));
    put(sh, (__u8)mss);
}

static __always_inline void put_wscale(struct shape *sh, __u8 shift)
{
    put(sh, 3);
    put(sh, 3);
    put(sh, shift);
}

static __always_inline void put_sack_permitted(struct shape *sh)
{
    put(sh, 4);
    put(sh, 2);
}

static __always_inline void put_timestamp(struct shape *sh, __u32 val, __u32 ecr)
{
    put(sh, 8);
    put(sh, 10);
    put(sh, (__u8)(val >> 24));
    put(sh, (__u8)(val >> 16));
    put(sh, (__u8)(val >> 8));
    put(sh, (__u8)val);
    put(sh, (__u8)(ecr >> 24));
    put(sh, (__u8)(ecr >> 16));
    put(sh, (__u8)(ecr >> 8));
    put(sh, (__u8)ecr);
}

static __always_inline void pad_eol(struct shape *sh)
{
#pragma unroll
    for (int i = 0; i < 3; i++)
        if (sh->len % 4)
            put(sh, 0);
}

static __always_inline void linux_synack(struct shape *sh, __u16 mss, __u8 wscale, const struct offer *o, __u32 ts)
{
    __u32 emss = mss - (o->has_timestamp ? 12u : 0u);
    sh->ttl = 64;
    sh->window = emss ? (__u16)((65535u / emss) * emss) : 65535;
    put_mss(sh, mss);
    if (o->has_timestamp) {
        if (o->sack_permitted) {
            put_sack_permitted(sh);
        } else {
            put(sh, 1);
            put(sh, 1);
        }
        put_timestamp(sh, ts, o->ts_val);
    } else if (o->sack_permitted) {
        put(sh, 1);
        put(sh, 1);
        put_sack_permitted(sh);
    }
    if (o->has_wscale) {
        put(sh, 1);
        put_wscale(sh, wscale);
    }
}

static __always_inline void freebsd_synack(struct shape *sh, __u16 mss, const struct offer *o, __u32 ts)
{
    sh->ttl = 64;
    sh->window = 65535;
    put_mss(sh, mss);
    if (o->has_wscale) { /* after the 4-byte MSS: one NOP to reach an odd offset */
        put(sh, 1);
        put_wscale(sh, 6);
    }
    if (o->sack_permitted) {
        if (sh->len % 2)
            put(sh, 1);
        put_sack_permitted(sh);
    }
    if (o->has_timestamp) {
#pragma unroll
        for (int i = 0; i < 3; i++)
            if (sh->len % 4 != 2)
                put(sh, 1);
        put_timestamp(sh, ts, o->ts_val);
    }
    pad_eol(sh);
}

static __always_inline void windows_synack(struct shape *sh, __u16 mss, const struct offer *o)
{
    sh->ttl = 128;
    sh->ipid_increments = 1;
    sh->window = 65535;
    put_mss(sh, mss);
    if (o->has_wscale) {
        put(sh, 1);
        put_wscale(sh, 8);
    }
    if (o->sack_permitted) {
        put(sh, 1);
        put(sh, 1);
        put_sack_permitted(sh);
    }
    pad_eol(sh);
}

static __always_inline void persona_synack(const struct synack_settings *s, int v6, const struct offer *o, __u32 ts,
                                           struct shape *sh)
{
    __u16 mss = v6 ? s->mss_v6 : s->mss_v4;
    if (s->persona == SYNACK_PERSONA_WINDOWS)
        windows_synack(sh, mss, o);
    else if (s->persona == SYNACK_PERSONA_FREEBSD)
        freebsd_synack(sh, mss, o, ts);
    else
        linux_synack(sh, mss, s->linux_wscale, o, ts);
}

/* ---- checksums ---- */

static __always_inline __u16 fold(__u64 sum)
{
#pragma unroll
    for (int i = 0; i < 4; i++)
        sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)~sum;
}

/* The reply's IP and TCP headers, built on the stack and stored over the SYN's in one call. */
struct reply4 {
    struct iphdr ip;
    struct tcphdr tcp;
    __u8 options[OPTIONS_MAX];
};
_Static_assert(sizeof(struct reply4) == 20 + 20 + OPTIONS_MAX, "no padding in the IPv4 reply");

struct reply6 {
    struct ipv6hdr ip;
    struct tcphdr tcp;
    __u8 options[OPTIONS_MAX];
};
_Static_assert(sizeof(struct reply6) == 40 + 20 + OPTIONS_MAX, "no padding in the IPv6 reply");

struct pseudo4 {
    __be32 saddr, daddr;
    __u8 zero, proto;
    __be16 len;
};

struct pseudo6 {
    struct in6_addr saddr, daddr;
    __be32 len;
    __u8 zero[3], next;
};

/* ---- one SYN ---- */

struct syn {
    __u8 msg[40];             /* the cookie message: src, dst (IPv4 as ::ffff:a.b.c.d, as struct ip_addr), ports */
    struct synack_source net;
    __u16 sport, dport;       /* host order */
    __u32 seq;
    struct offer offer;
};

static __always_inline void swap_macs(struct ethhdr *eth)
{
    __u8 tmp[ETH_ALEN];
    __builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
    __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
    __builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

static __always_inline void fill_tcp(struct tcphdr *t, const struct syn *in, __u32 isn, const struct shape *sh)
{
    __builtin_memset(t, 0, sizeof *t);
    t->source = bpf_htons(in->dport);
    t->dest = bpf_htons(in->sport);
    t->seq = bpf_htonl(isn);
    t->ack_seq = bpf_htonl(in->seq + 1);
    t->doff = (__u16)((20 + sh->len) / 4);
    t->syn = 1;
    t->ack = 1;
    t->window = bpf_htons(sh->window);
}

/* The TCP header's length with the options: 20..60, a multiple of 4 (every layout pads to one). */
static __always_inline __u32 tcp_length(const struct shape *sh)
{
    __u32 len = 20 + sh->len;
    if (len > 20 + OPTIONS_MAX)
        len = 20 + OPTIONS_MAX;
    return len & ~3u;
}

/* tcp_length's value in a form the 6.1 verifier can bound at the helper call (it loses the clamp above once the
 * value has been through the stack): a mask right at the use, which the barrier keeps the compiler from dropping. */
static __always_inline __u32 bounded_tcp_length(__u32 len)
{
    asm volatile("" : "+r"(len));
    return len & 0x3c; /* 20..60, a multiple of 4: unchanged */
}

/* The reply (IP header onwards, len bytes) replaces the SYN and any payload it carried, the MACs are swapped and it
 * leaves through the interface it came in on. Every packet pointer is stale after bpf_skb_change_tail. */
static __always_inline int emit_reply(struct __sk_buff *skb, const void *reply, __u32 len, __u32 max)
{
    /* explicit bounds the 6.1 verifier can see (see bounded_tcp_length), one test each: combined, the compiler
     * tests `len - 40` instead, which bounds a copy and not len */
    asm volatile("" : "+r"(len));
    if (len > max)
        return TC_ACT_SHOT;
    asm volatile("" : "+r"(len));
    if (len < 40) /* at least the IPv4 and TCP headers */
        return TC_ACT_SHOT;
    if (bpf_skb_change_tail(skb, ETH_HLEN + len, 0) < 0)
        return LEAVE;
    if (bpf_skb_store_bytes(skb, ETH_HLEN, reply, len, 0) < 0)
        return TC_ACT_SHOT;
    void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return TC_ACT_SHOT;
    swap_macs(eth);
    count(SYNACK_STAT_SYNACK_SENT);
    return bpf_redirect(skb->ifindex, 0);
}

static __always_inline int send_reply4(struct __sk_buff *skb, struct synack_settings *s, const struct syn *in,
                                       __u32 isn, struct shape *sh)
{
    struct reply4 r;
    __u32 tcplen = tcp_length(sh);
    __builtin_memset(&r, 0, sizeof r);
    __builtin_memcpy(r.options, sh->options, OPTIONS_MAX);
    r.ip.version = 4;
    r.ip.ihl = 5;
    r.ip.tot_len = bpf_htons((__u16)(20 + tcplen));
    if (sh->ipid_increments)
        r.ip.id = bpf_htons((__u16)__sync_fetch_and_add(&s->ip_id, 1));
    r.ip.frag_off = bpf_htons(0x4000); /* DF, every persona */
    r.ip.ttl = sh->ttl;
    r.ip.protocol = IPPROTO_TCP;
    __builtin_memcpy(&r.ip.saddr, in->msg + 28, 4);
    __builtin_memcpy(&r.ip.daddr, in->msg + 12, 4);
    r.ip.check = fold(bpf_csum_diff(0, 0, (__be32 *)&r.ip, sizeof r.ip, 0));
    fill_tcp(&r.tcp, in, isn, sh);
    struct pseudo4 ph = {.saddr = r.ip.saddr, .daddr = r.ip.daddr, .proto = IPPROTO_TCP,
                         .len = bpf_htons((__u16)tcplen)};
    __s64 sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof ph, 0);
    sum = bpf_csum_diff(0, 0, (__be32 *)&r.tcp, bounded_tcp_length(tcplen), (__wsum)sum);
    r.tcp.check = fold((__u32)sum);

    return emit_reply(skb, &r, 20 + tcplen, sizeof r);
}

static __always_inline int send_reply6(struct __sk_buff *skb, const struct syn *in,
                                       __u32 isn, __u32 flow_label, struct shape *sh)
{
    struct reply6 r;
    __u32 tcplen = tcp_length(sh);
    __builtin_memset(&r, 0, sizeof r);
    __builtin_memcpy(r.options, sh->options, OPTIONS_MAX);
    *(__be32 *)&r.ip = bpf_htonl(6u << 28 | (flow_label & 0xfffff));
    r.ip.payload_len = bpf_htons((__u16)tcplen);
    r.ip.nexthdr = IPPROTO_TCP;
    r.ip.hop_limit = sh->ttl;
    __builtin_memcpy(&r.ip.saddr, in->msg + 16, 16);
    __builtin_memcpy(&r.ip.daddr, in->msg, 16);
    fill_tcp(&r.tcp, in, isn, sh);
    struct pseudo6 ph = {.len = bpf_htonl(tcplen), .next = IPPROTO_TCP};
    __builtin_memcpy(&ph.saddr, &r.ip.saddr, 16);
    __builtin_memcpy(&ph.daddr, &r.ip.daddr, 16);
    __s64 sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof ph, 0);
    sum = bpf_csum_diff(0, 0, (__be32 *)&r.tcp, bounded_tcp_length(tcplen), (__wsum)sum);
    r.tcp.check = fold((__u32)sum);

    return emit_reply(skb, &r, 40 + tcplen, sizeof r);
}

enum parsed { PARSED_SYN, PARSED_OTHER, PARSED_UNUSUAL, PARSED_MALFORMED };

/* The TCP header at tcp with `avail` bytes of IP payload: a SYN (SYN set, ACK and RST clear) to fill *in with. */
static __always_inline enum parsed parse_tcp(struct __sk_buff *skb, const struct tcphdr *tcp, __u32 avail,
                                             const void *data_end, struct syn *in)
{
    if ((const void *)(tcp + 1) > data_end)
        return avail < 20 ? PARSED_MALFORMED : PARSED_UNUSUAL;
    if (!tcp->syn || tcp->ack || tcp->rst)
        return PARSED_OTHER;
    __u32 doff = (__u32)tcp->doff * 4;
    if (doff < 20 || doff > avail)
        return PARSED_MALFORMED;
    in->sport = bpf_ntohs(tcp->source);
    in->dport = bpf_ntohs(tcp->dest);
    in->seq = bpf_ntohl(tcp->seq);
    __builtin_memcpy(in->msg + 32, &tcp->source, 2);
    __builtin_memcpy(in->msg + 34, &tcp->dest, 2);
    parse_options(skb, (__u32)((const void *)(tcp + 1) - (const void *)(long)skb->data), doff - 20, &in->offer);
    return PARSED_SYN;
}

static __always_inline int monitored_v4(const __u8 *daddr)
{
    struct synack_prefix4 k = {.prefixlen = 32};
    __builtin_memcpy(k.addr, daddr, 4);
    return bpf_map_lookup_elem(&monitored4, &k) != 0;
}

static __always_inline int monitored_v6(const __u8 *daddr)
{
    struct synack_prefix6 k = {.prefixlen = 128};
    __builtin_memcpy(k.addr, daddr, 16);
    return bpf_map_lookup_elem(&monitored6, &k) != 0;
}

/* What to do with a SYN already parsed and monitored: answer, leave to the kernel (excluded port), or drop. */
static __always_inline int answer(struct __sk_buff *skb, struct synack_settings *s, struct syn *in, int v6)
{
    count(SYNACK_STAT_SYN_SEEN);
    __u32 zero = 0;
    struct synack_ports *p = bpf_map_lookup_elem(&ports, &zero);
    if (!p || !((p->bits[(in->dport >> 3) & 8191] >> (in->dport & 7)) & 1)) {
        count(SYNACK_STAT_PORT_EXCLUDED);
        return LEAVE;
    }
    __u64 now = bpf_ktime_get_ns();
    switch (rate_check(s, &in->net, now)) {
    case LIMITED_GLOBAL:
        count(SYNACK_STAT_LIMITED_GLOBAL);
        return TC_ACT_SHOT;
    case LIMITED_SOURCE:
        count(SYNACK_STAT_LIMITED_SOURCE);
        return TC_ACT_SHOT;
    case PASS:
        break;
    }
    __u32 ts = (__u32)(s->ts_origin_ms + now / NS_PER_MS);
    struct shape sh;
    __builtin_memset(&sh, 0, sizeof sh);
    persona_synack(s, v6, &in->offer, ts, &sh);
    set_coarse(in->msg, (__u32)((now + s->realtime_offset_ns) / COOKIE_SLOT_NS));
    __u32 isn = cookie_hash(s, in->msg);
    if (!v6)
        return send_reply4(skb, s, in, isn, &sh);
    __u32 label = 0;
    if (s->persona == SYNACK_PERSONA_LINUX) {
        set_coarse(in->msg, 0xffffffffu);
        label = cookie_hash(s, in->msg);
    }
    return send_reply6(skb, in, isn, label, &sh);
}

/* What parse_tcp found decides: a SYN is answered, anything else is left to the kernel (and counted if odd). */
static __always_inline int act_on(struct __sk_buff *skb, struct synack_settings *s, struct syn *in, enum parsed what,
                                  int v6)
{
    switch (what) {
    case PARSED_SYN:
        return answer(skb, s, in, v6);
    case PARSED_MALFORMED:
        count(SYNACK_STAT_MALFORMED);
        return LEAVE;
    case PARSED_UNUSUAL:
        count(SYNACK_STAT_PASSED);
        return LEAVE;
    default:
        return LEAVE;
    }
}

static __always_inline int handle_v4(struct __sk_buff *skb, struct synack_settings *s, void *data,
                                     void *data_end)
{
    struct iphdr *ip = data + ETH_HLEN;
    if ((void *)(ip + 1) > data_end)
        return LEAVE;
    if (ip->version != 4 || ip->protocol != IPPROTO_TCP)
        return LEAVE;
    if (!monitored_v4((const __u8 *)&ip->daddr))
        return LEAVE;
    __u32 total = bpf_ntohs(ip->tot_len);
    if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)) != 0) {
        /* IP options or a fragment: the raw engine's territory (counted when it is a first fragment's SYN) */
        struct tcphdr *t = (void *)ip + ((__u32)ip->ihl * 4 & 63);
        if ((ip->frag_off & bpf_htons(0x1fff)) == 0 && (void *)(t + 1) <= data_end && t->syn && !t->ack && !t->rst)
            count(SYNACK_STAT_PASSED);
        return LEAVE;
    }
    if (total < 20 || total > skb->len - ETH_HLEN) {
        count(SYNACK_STAT_MALFORMED);
        return LEAVE;
    }
    struct syn in;
    __builtin_memset(&in, 0, sizeof in);
    in.msg[10] = 0xff;
    in.msg[11] = 0xff;
    in.msg[26] = 0xff;
    in.msg[27] = 0xff;
    __builtin_memcpy(in.msg + 12, &ip->saddr, 4);
    __builtin_memcpy(in.msg + 28, &ip->daddr, 4);
    __builtin_memcpy(in.net.net, &ip->saddr, 3);
    in.net.family = 4;
    return act_on(skb, s, &in, parse_tcp(skb, (struct tcphdr *)(ip + 1), total - 20, data_end, &in), 0);
}

static __always_inline int handle_v6(struct __sk_buff *skb, struct synack_settings *s, void *data,
                                     void *data_end)
{
    struct ipv6hdr *ip = data + ETH_HLEN;
    if ((void *)(ip + 1) > data_end)
        return LEAVE;
    if (ip->version != 6 || !monitored_v6((const __u8 *)&ip->daddr))
        return LEAVE;
    if (ip->nexthdr != IPPROTO_TCP) /* extension headers: left to the raw engine, which walks them */
        return LEAVE;
    __u32 plen = bpf_ntohs(ip->payload_len);
    if (plen > skb->len - ETH_HLEN - 40) {
        count(SYNACK_STAT_MALFORMED);
        return LEAVE;
    }
    struct syn in;
    __builtin_memset(&in, 0, sizeof in);
    __builtin_memcpy(in.msg, &ip->saddr, 16);
    __builtin_memcpy(in.msg + 16, &ip->daddr, 16);
    __builtin_memcpy(in.net.net, &ip->saddr, 8);
    in.net.family = 6;
    return act_on(skb, s, &in, parse_tcp(skb, (struct tcphdr *)(ip + 1), plen, data_end, &in), 1);
}

SEC("tc")
int lurker_synack(struct __sk_buff *skb)
{
    __u32 zero = 0;
    struct synack_settings *s = bpf_map_lookup_elem(&settings, &zero);
    if (!s || !s->ready || skb->pkt_type != PACKET_HOST || skb->vlan_present)
        return LEAVE;
    /* the headers (at most 14 + 40 + 60 bytes) must be in the linear part to be read directly */
    __u32 want = skb->len < HEADERS_MAX ? skb->len : HEADERS_MAX;
    if ((__u64)skb->data_end - (__u64)skb->data < want && bpf_skb_pull_data(skb, want) < 0)
        return LEAVE;
    void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > data_end)
        return LEAVE;
    if (eth->h_proto == bpf_htons(ETH_P_IP))
        return handle_v4(skb, s, data, data_end);
    if (eth->h_proto == bpf_htons(ETH_P_IPV6))
        return handle_v6(skb, s, data, data_end);
    return LEAVE;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
