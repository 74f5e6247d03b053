#include "flow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
    t->out_of_memory = false;
}

void pcap_flows_segments(const struct pcap_flows *t, const struct flow_direction *d, struct segment *out)
{
    size_t k = 0;
    for (size_t at = d->first_seg; at && k < d->nsegs; at = t->pool[at - 1].next)
        out[k++] = t->pool[at - 1].seg;
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
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

/* Symmetric: both directions of a flow hash alike. */
static uint64_t flow_hash(uint8_t family, uint8_t proto, const uint8_t *a, uint16_t pa, const uint8_t *b,
                          uint16_t pb)
{
    size_t alen = family == 4 ? 4 : 16;
    uint64_t ha = hash_bytes(0xcbf29ce484222325ull, a, alen) ^ pa;
    uint64_t hb = hash_bytes(0xcbf29ce484222325ull, b, alen) ^ pb;
    uint64_t h = (ha ^ hb) + (ha * hb) * 0x9e3779b97f4a7c15ull; /* commutative mix */
    h ^= (uint64_t)family << 8 | proto;
    h *= 0xff51afd7ed558ccdull;
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

static uint64_t flow_entry_hash(const struct flow *f)
{
    return flow_hash(f->family, f->proto, f->addr[0], f->port[0], f->addr[1], f->port[1]);
}

static int grow_slots(struct pcap_flows *t)
{
    size_t n = t->nslots ? t->nslots * 2 : INITIAL_SLOTS;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->nflows; i++) {
        size_t s = flow_entry_hash(&t->flows[i]) & (n - 1);
        while (slots[s])
            s = (s + 1) & (n - 1);
        slots[s] = (uint32_t)(i + 1);
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

static struct flow *lookup(struct pcap_flows *t, const struct decoded_packet *p, struct timestamp ts, int *sender)
{
    if ((t->nflows + 1) * 2 > t->nslots && grow_slots(t) != 0) {
        t->out_of_memory = true;
        return NULL;
    }
    size_t mask = t->nslots - 1;
    size_t s = flow_hash(family_of(p), p->proto, addr_of(&p->src), p->sport, addr_of(&p->dst), p->dport) & mask;
    for (; t->slots[s]; s = (s + 1) & mask) {
        struct flow *f = &t->flows[t->slots[s] - 1];
        int m = flow_match(f, p);
        if (m >= 0 && is_new_connection(f, m, p))
            break; /* the 4-tuple was reused: the new connection replaces the old one in this slot */
        if (m >= 0) {
            *sender = m;
            return f;
        }
    }
    *sender = 0;
    return new_flow(t, p, ts, s);
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
