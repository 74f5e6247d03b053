#include "flow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

#define INITIAL_SLOTS 64

void pcap_flows_init(struct pcap_flows *t)
{
    memset(t, 0, sizeof *t);
}

void pcap_flows_free(struct pcap_flows *t)
{
    free(t->flows);
    free(t->pool);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Above these sizes a table is freed rather than kept for the next pcap: one large capture should not pin its
 * memory for the rest of a run. */
#define RESET_KEEP_SLOTS 4096u
#define RESET_KEEP_SEGMENTS 65536u

void pcap_flows_reset(struct pcap_flows *t)
{
    if (t->nslots > RESET_KEEP_SLOTS || t->pool_capacity > RESET_KEEP_SEGMENTS) {
        pcap_flows_free(t);
        return;
    }
    if (t->slots)
        memset(t->slots, 0, t->nslots * sizeof *t->slots);
    t->nflows = 0;
    t->npool = 0;
    t->dropped_flows = 0;
    t->longest_probe = 0;
    t->out_of_memory = false;
}

void pcap_flows_segments(const struct pcap_flows *t, const struct flow_direction *d, struct segment *out)
{
    size_t k = 0;
    for (size_t at = d->first_seg; at && k < d->nsegs; at = t->pool[at - 1].next)
        out[k++] = t->pool[at - 1].seg;
}

/* A flow holds its family as 4 or 6 and an IPv4 address in the first 4 bytes of its 16 (record.c prints them so). */
static uint8_t family_of(const struct decoded_packet *p)
{
    return p->src.family == AF_INET ? 4 : 6;
}

static const uint8_t *addr_of(const struct ip_addr *a)
{
    return a->family == AF_INET ? a->bytes + 12 : a->bytes;
}

/* Multiply-add over 32-bit words under the table's random key (Dietzfelbinger; Thorup, "High Speed Hashing for
 * Integers and Strings": the high 32 bits are strongly universal), then MurmurHash3's finalizer (a bijection) so
 * that structured keys such as consecutive ports do not fill neighbouring slots. The addresses and ports are the
 * attacker's choice: with an unkeyed hash they pick flows that share one probe chain; under an unknown key they
 * cannot tell which slots their flows take. SipHash-1-3 cost 5% of a run here; this costs what the FNV before it
 * did. Symmetric: the lower endpoint is hashed first. */
static uint64_t flow_hash(const uint64_t key[FLOW_HASH_KEY_WORDS], uint8_t family, uint8_t proto, const uint8_t *a,
                          uint16_t pa, const uint8_t *b, uint16_t pb)
{
    size_t alen = family == 4 ? 4 : 16;
    int order = memcmp(a, b, alen);
    bool swap = order > 0 || (order == 0 && pa > pb);
    const uint8_t *lo = swap ? b : a, *hi = swap ? a : b;
    uint64_t ports = swap ? (uint64_t)pb << 16 | pa : (uint64_t)pa << 16 | pb;
    uint64_t h = key[0] + key[1] * ((uint64_t)family << 8 | proto) + key[2] * ports;
    const uint64_t *k = key + 3;
    for (size_t i = 0; i < alen; i += 4, k += 2) {
        uint32_t wlo, whi;
        memcpy(&wlo, lo + i, 4);
        memcpy(&whi, hi + i, 4);
        h += k[0] * wlo + k[1] * whi;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* Returns 0 or 1 (which endpoint sent p) when f is p's flow, else -1. */
static int flow_match(const struct flow *f, const struct decoded_packet *p)
{
    if (f->family != family_of(p) || f->proto != p->proto)
        return -1;
    size_t alen = f->family == 4 ? 4 : 16;
    const uint8_t *src = addr_of(&p->src), *dst = addr_of(&p->dst);
    if (f->port[0] == p->sport && f->port[1] == p->dport && !memcmp(f->addr[0], src, alen) &&
        !memcmp(f->addr[1], dst, alen))
        return 0;
    if (f->port[1] == p->sport && f->port[0] == p->dport && !memcmp(f->addr[1], src, alen) &&
        !memcmp(f->addr[0], dst, alen))
        return 1;
    return -1;
}

static uint64_t entry_hash(const struct pcap_flows *t, const struct flow *f)
{
    return flow_hash(t->hash_key, f->family, f->proto, f->addr[0], f->port[0], f->addr[1], f->port[1]);
}

static uint64_t packet_hash(const struct pcap_flows *t, const struct decoded_packet *p)
{
    return flow_hash(t->hash_key, family_of(p), p->proto, addr_of(&p->src), p->sport, addr_of(&p->dst), p->dport);
}

/* Rebuilds the slots at n entries under a fresh random key, from the old slots: a flow that a reused 4-tuple
 * replaced is no longer in them and stays out. */
static int rebuild_slots(struct pcap_flows *t, size_t n)
{
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots || getrandom(t->hash_key, sizeof t->hash_key, 0) != (ssize_t)sizeof t->hash_key) {
        free(slots);
        return -1;
    }
    for (size_t k = 0; k < t->nslots; k++) {
        if (!t->slots[k])
            continue;
        size_t s = entry_hash(t, &t->flows[t->slots[k] - 1]) & (n - 1);
        while (slots[s])
            s = (s + 1) & (n - 1);
        slots[s] = t->slots[k];
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return 0;
}

static struct flow *new_flow(struct pcap_flows *t, const struct decoded_packet *p, struct timestamp ts, size_t slot)
{
    if (t->nflows >= FLOW_TABLE_MAX_FLOWS) {
        t->dropped_flows++;
        return NULL;
    }
    if (t->nflows == t->capacity) {
        size_t cap = t->capacity ? t->capacity * 2 : 16;
        struct flow *flows = realloc(t->flows, cap * sizeof *flows);
        if (!flows) {
            t->out_of_memory = true;
            return NULL;
        }
        t->flows = flows;
        t->capacity = cap;
    }
    struct flow *f = &t->flows[t->nflows];
    memset(f, 0, sizeof *f);
    f->family = family_of(p);
    f->proto = p->proto;
    size_t alen = f->family == 4 ? 4 : 16;
    memcpy(f->addr[0], addr_of(&p->src), alen);
    memcpy(f->addr[1], addr_of(&p->dst), alen);
    f->port[0] = p->sport;
    f->port[1] = p->dport;
    f->first = ts;
    f->last = ts;
    f->icmp_type = p->icmp_type;
    f->icmp_code = p->icmp_code;
    t->slots[slot] = (uint32_t)(++t->nflows);
    return f;
}

/* A SYN with a new initial sequence number on a finished or different connection of the same 4-tuple. */
static bool is_new_connection(const struct flow *f, int sender, const struct decoded_packet *p)
{
    const struct flow_direction *d = &f->dir[sender];
    return p->proto == IPPROTO_TCP && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN && d->syn &&
           p->seq != d->syn_seq;
}

/* p's slot: its flow's (*found set, *sender which endpoint sent it) or the one a new flow takes; -1 when the probe
 * ran past limit slots. */
static long find_slot(struct pcap_flows *t, const struct decoded_packet *p, size_t limit, struct flow **found,
                      int *sender)
{
    size_t mask = t->nslots - 1, s = packet_hash(t, p) & mask;
    for (size_t probes = 1; t->slots[s]; s = (s + 1) & mask, probes++) {
        if (probes > limit)
            return -1;
        if (probes > t->longest_probe)
            t->longest_probe = probes;
        struct flow *f = &t->flows[t->slots[s] - 1];
        int m = flow_match(f, p);
        if (m >= 0 && is_new_connection(f, m, p))
            break; /* the 4-tuple was reused: the new connection replaces the old one in this slot */
        if (m >= 0) {
            *found = f;
            *sender = m;
            return (long)s;
        }
    }
    *found = NULL;
    *sender = 0;
    return (long)s;
}

static struct flow *lookup(struct pcap_flows *t, const struct decoded_packet *p, struct timestamp ts, int *sender)
{
    if ((t->nflows + 1) * 2 > t->nslots && rebuild_slots(t, t->nslots ? t->nslots * 2 : INITIAL_SLOTS) != 0) {
        t->out_of_memory = true;
        return NULL;
    }
    /* A chain longer than FLOW_PROBE_LIMIT is chance under a random key, not an attacker's doing: the table is
     * rebuilt twice as large under a new key, up to FLOW_TABLE_MAX_SLOTS (or out of memory), past which the probe
     * goes to the end of its chain. */
    struct flow *f;
    long s;
    size_t limit = FLOW_PROBE_LIMIT;
    while ((s = find_slot(t, p, limit, &f, sender)) < 0)
        if (t->nslots >= FLOW_TABLE_MAX_SLOTS || rebuild_slots(t, t->nslots * 2) != 0)
            limit = SIZE_MAX;
    return f ? f : new_flow(t, p, ts, (size_t)s);
}

static int add_segment(struct pcap_flows *t, struct flow_direction *d, uint32_t seq, const uint8_t *data,
                       uint32_t len)
{
    if (t->npool == t->pool_capacity) {
        size_t cap = t->pool_capacity ? t->pool_capacity * 2 : 64;
        struct segment_node *pool = realloc(t->pool, cap * sizeof *pool);
        if (!pool)
            return -1;
        t->pool = pool;
        t->pool_capacity = cap;
    }
    t->pool[t->npool] = (struct segment_node){ .seg = { .seq = seq, .len = len, .data = data }, .next = 0 };
    size_t id = ++t->npool;
    if (d->last_seg)
        t->pool[d->last_seg - 1].next = id;
    else
        d->first_seg = id;
    d->last_seg = id;
    d->nsegs++;
    return 0;
}

static void note_tcp_control(struct flow *f, int sender, const struct decoded_packet *p)
{
    struct flow_direction *d = &f->dir[sender], *peer = &f->dir[!sender];
    uint8_t fl = p->tcp_flags;
    if ((fl & TCPF_SYN) && !(fl & TCPF_ACK)) {
        if (!d->syn) {
            d->syn = true;
            d->syn_seq = p->seq;
        }
        if (!f->client_from_syn) {
            f->client = sender;
            f->client_from_syn = true;
        }
    } else if ((fl & TCPF_SYN) && (fl & TCPF_ACK)) {
        if (!d->synack && !d->syn) {
            d->synack = true;
            d->syn_seq = p->seq;
        }
        if (!f->client_from_syn) {
            f->client = !sender;
            f->client_from_syn = true;
        }
    } else if ((fl & TCPF_ACK) && peer->synack && p->ack == peer->syn_seq + 1) {
        d->acked_peer_synack = true;
    }
    d->fin |= (fl & TCPF_FIN) != 0;
    d->rst |= (fl & TCPF_RST) != 0;
}

int pcap_flows_add(struct pcap_flows *t, const struct decoded_packet *p, struct timestamp ts)
{
    int sender;
    struct flow *f = lookup(t, p, ts, &sender);
    if (!f)
        return -1;
    if (ts.sec > f->last.sec || (ts.sec == f->last.sec && ts.nsec > f->last.nsec))
        f->last = ts; /* the latest time seen: files are not always in time order */
    struct flow_direction *d = &f->dir[sender];
    d->packets++;
    d->ip_bytes += p->ip_len;
    d->clipped |= p->payload_wire_len > p->payload_len;
    if (p->proto == IPPROTO_TCP) {
        note_tcp_control(f, sender, p);
        /* data on a SYN (TCP Fast Open) starts one past the SYN's own sequence number */
        uint32_t seq = (p->tcp_flags & TCPF_SYN) ? p->seq + 1 : p->seq;
        if (p->payload_len > 0 && !(p->tcp_flags & TCPF_RST) && add_segment(t, d, seq, p->payload, p->payload_len))
            goto oom;
    } else { /* UDP and ICMP: datagrams in capture order */
        if (p->payload_len > 0 && add_segment(t, d, 0, p->payload, p->payload_len))
            goto oom;
    }
    return 0;
oom:
    t->out_of_memory = true;
    return -1;
}
