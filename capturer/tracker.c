#include "tracker.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "decode.h"
#include "journal.h"
#include "origin.h"
#include "pcapfile.h"
#include "queue.h"

int tracker_init(struct tracker *tr, const struct capturer_config *cc, const struct prefix *local, size_t nlocal,
                 int dlt, const uint8_t hash_key[16], flow_sink_fn sink, void *sink_arg)
{
    memset(tr, 0, sizeof *tr);
    if (flow_table_init(&tr->table, cc->max_flows, hash_key) != 0)
        return -1;
    if (flow_table_init(&tr->aside, cc->max_flows, hash_key) != 0) {
        flow_table_destroy(&tr->table);
        return -1;
    }
    /* alive at once: the table's and the aside table's max_flows, the writer's backlog (max_flows, main.c) and
     * what the writer holds while writing (two SPOOL_BATCH of 256, spool.h), with room to spare: the pool is
     * never the first bound to bite */
    flow_pool_init(&tr->pool, 3 * (uint64_t)cc->max_flows + 2 * FLOW_POOL_SLAB);
    tr->table.pool = &tr->pool;
    tr->aside.pool = &tr->pool;
    tr->local = local;
    tr->nlocal = nlocal;
    tr->dlt = dlt;
    tr->timeout_us = (uint64_t)cc->flow_timeout * 1000000u + FLOW_EXPIRY_SLACK_US;
    tr->max_age_us = (uint64_t)cc->max_flow_age * 1000000u;
    tr->max_flows = cc->max_flows;
    tr->max_packets = cc->max_flow_packets;
    tr->max_bytes = cc->max_flow_bytes;
    tr->memory_limit = cc->memory_limit;
    tr->sink = sink;
    tr->sink_arg = sink_arg;
    tr->ephemeral = EPHEMERAL_PORTS_DEFAULT;
    return 0;
}

void tracker_destroy(struct tracker *tr)
{
    flow_table_destroy(&tr->table);
    flow_table_destroy(&tr->aside);
    flow_pool_destroy(&tr->pool);
}

bool tracker_is_local(const struct tracker *tr, uint8_t family, const uint8_t bytes[16])
{
    struct ip_addr a = {.family = family};
    memcpy(a.bytes, bytes, 16);
    return prefixes_contain(tr->local, tr->nlocal, &a);
}

/* Echo, timestamp, information and address-mask replies share their request's flow. */
static uint16_t icmp_request_type(uint8_t proto, uint16_t type)
{
    if (proto == IPPROTO_ICMP) {
        switch (type) {
        case 0:
            return 8;
        case 14:
            return 13;
        case 16:
            return 15;
        case 18:
            return 17;
        }
    } else if (proto == IPPROTO_ICMPV6 && type == 129) {
        return 128;
    }
    return type;
}

void tracker_flow_key(const struct tracker *tr, const struct decoded_packet *p, struct flow_key *key, int *inbound)
{
    memset(key, 0, sizeof *key);
    key->proto = p->proto;
    key->family = p->src.family;
    /* from a monitored address (and not to one): our own reply; anything else counts as the remote side's */
    *inbound = !(tracker_is_local(tr, key->family, p->src.bytes) && !tracker_is_local(tr, key->family, p->dst.bytes));
    const struct ip_addr *remote = *inbound ? &p->src : &p->dst, *local = *inbound ? &p->dst : &p->src;
    memcpy(key->remote, remote->bytes, 16);
    memcpy(key->local, local->bytes, 16);
    if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
        key->remote_port = icmp_request_type(p->proto, p->icmp_type);
    } else {
        key->remote_port = *inbound ? p->sport : p->dport;
        key->local_port = *inbound ? p->dport : p->sport;
    }
}

/* An entry in the aside table: FLOW_IGNORED (the host's flow) or 0 (mark: an outsider's flow continues). */
static void set_aside(struct tracker *tr, const struct flow_key *key, uint32_t flags, uint64_t now)
{
    if (tr->aside.count >= tr->max_flows && flow_table_oldest(&tr->aside)) {
        struct flow *old = flow_table_oldest(&tr->aside);
        flow_table_remove(&tr->aside, old);
        flow_table_release(old);
    }
    struct flow *f = flow_table_insert(&tr->aside, key, now); /* no memory: the next packet is judged again */
    if (f) {
        f->flags = flags;
        flow_drop_records(&tr->aside, f); /* an entry holds no packets: a recycled buffer would be held uncounted */
    }
}

static void finish(struct tracker *tr, struct flow *f, enum finish_reason why)
{
    flow_table_remove(&tr->table, f);
    if (why != FINISH_IDLE)
        f->flags |= FLOW_EARLY;
    if (why == FINISH_CUT_PACKETS || why == FINISH_CUT_BYTES)
        f->flags |= FLOW_TRUNCATED;
    tr->stats.finished[why]++;
    struct flow_key key = f->key;
    uint64_t last = f->last_mono_us;
    tr->sink(tr->sink_arg, f);
    /* cut or aged: the outsider's conversation goes on, and its next packet (maybe ours, outbound) continues it */
    if (why == FINISH_CUT_PACKETS || why == FINISH_CUT_BYTES || why == FINISH_AGED)
        set_aside(tr, &key, 0, last);
}

/* Echo and timestamp requests carry what the sender chose; errors quote our own packets (backscatter). */
static bool icmp_is_query(const struct decoded_packet *p)
{
    return p->proto == IPPROTO_ICMP ? p->icmp_type == 8 || p->icmp_type == 13 : p->icmp_type == 128;
}

static bool is_client_data(const struct decoded_packet *p, enum decode_result r, int inbound)
{
    if (!inbound)
        return false;
    bool icmp = p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6;
    bool known = icmp || p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP;
    /* ICMP: only a query's data after its 8-byte header is the client's (an error quotes our own packet) */
    uint32_t data = icmp ? (icmp_is_query(p) && p->payload_len > 4 ? p->payload_len - 4 : 0) : p->payload_len;
    return r != DECODE_OK || !known || data > 0;
}

void tracker_track_client_data(struct flow *f, const struct decoded_packet *p, enum decode_result r, int inbound)
{
    if (is_client_data(p, r, inbound))
        f->flags |= FLOW_CLIENT_DATA;
}

static struct flow *open_flow(struct tracker *tr, const struct flow_key *key, const struct decoded_packet *p,
                              uint64_t now)
{
    if (tr->table.count >= tr->max_flows && flow_table_evictable(&tr->table))
        finish(tr, flow_table_evictable(&tr->table), FINISH_MAX_FLOWS);
    struct flow *f = flow_table_insert(&tr->table, key, now);
    if (f == NULL)
        return NULL;
    if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6)
        f->first_code = p->icmp_code;
    tr->stats.flows_started++;
    return f;
}

static void ignore_packet(struct tracker *tr, bool new_flow)
{
    tr->stats.packets_ignored_local++;
    if (new_flow)
        tr->stats.flows_ignored_local++;
}

/* The flow this packet belongs to, opened if need be, or NULL when the packet is not recorded (the host's own, or
 * no memory: counted). */
static struct flow *flow_for(struct tracker *tr, const uint8_t *data, const struct decoded_packet *p,
                             enum decode_result r, int inbound, const struct flow_key *key, uint64_t now)
{
    enum origin_verdict v = origin_of_packet(tr, data, p, r, inbound);
    if (v == ORIGIN_HOST) {
        ignore_packet(tr, true);
        return NULL;
    }
    struct flow *f = flow_table_lookup(&tr->table, key);
    if (f && now - f->first_mono_us >= tr->max_age_us) {
        finish(tr, f, FINISH_AGED); /* its mark, set aside, continues it below */
        f = NULL;
    }
    if (f)
        return f;
    /* a new flow: one more lookup, skipped while nothing is set aside (a SYN flood's usual case) */
    struct flow *aside = tr->aside.count ? flow_table_lookup(&tr->aside, key) : NULL;
    if (aside && (aside->flags & FLOW_IGNORED)) {
        flow_table_touch(&tr->aside, aside, now);
        ignore_packet(tr, false);
        return NULL;
    }
    if (aside) {
        flow_table_remove(&tr->aside, aside);
        flow_table_release(aside);
        v = ORIGIN_OUTSIDER;
    }
    if (v == ORIGIN_UNDECIDED)
        v = origin_of_first_packet(tr, p, r, inbound, key);
    if (v == ORIGIN_HOST) {
        set_aside(tr, key, FLOW_IGNORED, now);
        ignore_packet(tr, true);
        return NULL;
    }
    if ((f = open_flow(tr, key, p, now)) == NULL)
        tr->stats.packets_nomem++;
    return f;
}

void tracker_packet(struct tracker *tr, uint64_t ts_us, const uint8_t *data, uint32_t caplen, uint32_t wire_len,
                    uint64_t now)
{
    struct decoded_packet p;
    enum decode_result r = decode_packet(tr->dlt, data, caplen, &p);
    tr->stats.packets++;
    tr->stats.bytes += caplen;
    if (r != DECODE_OK)
        tr->stats.malformed++;
    if (r == DECODE_NOT_IP)
        return;

    struct flow_key key;
    int inbound;
    tracker_flow_key(tr, &p, &key, &inbound);
    struct flow *f = flow_for(tr, data, &p, r, inbound, &key, now);
    if (f == NULL)
        return;
    flow_table_touch(&tr->table, f, now);

    uint64_t captured = f->records_len - (uint64_t)f->packets * PCAPFILE_RECORD_HEADER_LEN;
    uint64_t room = tr->max_bytes > captured ? tr->max_bytes - captured : 0;
    uint32_t keep = caplen < room ? caplen : (uint32_t)room;
    size_t max_records = (size_t)tr->max_bytes + (size_t)tr->max_packets * PCAPFILE_RECORD_HEADER_LEN;
    if (flow_append(&tr->table, f, ts_us, data, keep, wire_len, max_records) != 0) {
        tr->stats.packets_nomem++;
        if (f->packets == 0) {
            flow_table_remove(&tr->table, f);
            flow_table_release(f);
            tr->stats.flows_started--;
        }
        return;
    }
    if (tr->journal)
        journal_packet(tr->journal, f, ts_us, data, keep, wire_len);
    if (is_client_data(&p, r, inbound))
        flow_table_mark_client_data(&tr->table, f);

    /* the memory limit: the least recently active flows go first (never the one just fed) */
    for (struct flow *o; tr->table.memory > tr->memory_limit && (o = flow_table_oldest(&tr->table)) && o != f;)
        finish(tr, o, FINISH_MEMORY);

    if (f->packets >= tr->max_packets)
        finish(tr, f, FINISH_CUT_PACKETS);
    else if (captured + keep >= tr->max_bytes)
        finish(tr, f, FINISH_CUT_BYTES);
}

void tracker_expire(struct tracker *tr, uint64_t now)
{
    struct flow *f;
    while ((f = flow_table_oldest(&tr->table)) && now - f->last_mono_us >= tr->timeout_us)
        finish(tr, f, FINISH_IDLE);
    while ((f = flow_table_oldest(&tr->aside)) && now - f->last_mono_us >= tr->timeout_us) {
        flow_table_remove(&tr->aside, f);
        flow_table_release(f);
    }
}

uint64_t tracker_next_expiry(const struct tracker *tr)
{
    const struct flow *f = flow_table_oldest(&tr->table), *a = flow_table_oldest(&tr->aside);
    uint64_t flows = f ? f->last_mono_us + tr->timeout_us : UINT64_MAX;
    uint64_t aside = a ? a->last_mono_us + tr->timeout_us : UINT64_MAX;
    return flows < aside ? flows : aside;
}

void tracker_finish_all(struct tracker *tr)
{
    struct flow *f;
    while ((f = flow_table_oldest(&tr->table)) != NULL)
        finish(tr, f, FINISH_SHUTDOWN);
}

/* The packets of src (pcap records) into f, as capture would have appended them, journaled. */
static int adopt_records(struct tracker *tr, struct flow *f, const struct flow *src)
{
    size_t max_records = (size_t)tr->max_bytes + (size_t)tr->max_packets * PCAPFILE_RECORD_HEADER_LEN;
    for (size_t off = 0; off + PCAPFILE_RECORD_HEADER_LEN <= src->records_len;) {
        const uint8_t *h = src->records + off;
        uint32_t sec, usec, caplen, wire;
        memcpy(&sec, h, 4); /* written by pcapfile_record_header in host order */
        memcpy(&usec, h + 4, 4);
        memcpy(&caplen, h + 8, 4);
        memcpy(&wire, h + 12, 4);
        if (caplen > src->records_len - off - PCAPFILE_RECORD_HEADER_LEN)
            break;
        uint64_t ts = (uint64_t)sec * 1000000u + usec;
        if (flow_append(&tr->table, f, ts, h + PCAPFILE_RECORD_HEADER_LEN, caplen, wire, max_records) != 0)
            return -1;
        if (tr->journal)
            journal_packet(tr->journal, f, ts, h + PCAPFILE_RECORD_HEADER_LEN, caplen, wire);
        off += PCAPFILE_RECORD_HEADER_LEN + caplen;
    }
    return 0;
}

static void forget_adopted(struct tracker *tr, struct flow *f)
{
    flow_table_remove(&tr->table, f);
    if (tr->journal)
        journal_flow_done(tr->journal, f->journal_serial, f->journal_seg, NULL); /* in no pcap: never replayed */
    flow_table_release(f);
}

enum tracker_adopt_result tracker_adopt(struct tracker *tr, const struct flow *src, uint64_t now,
                                        uint64_t now_real_us)
{
    uint64_t idle = now_real_us > src->last_us ? now_real_us - src->last_us : 0;
    uint64_t age = now_real_us > src->first_us ? now_real_us - src->first_us : 0;
    if (idle >= tr->timeout_us)
        return TRACKER_ADOPT_IDLE;
    enum tracker_adopt_result adopted = TRACKER_ADOPTED;
    struct flow *held = flow_table_lookup(&tr->table, &src->key);
    if (held && held->first_us == src->first_us) {
        /* the same flow from two dead runs: the later one journaled it again, whole unless its journal filled */
        if (held->packets >= src->packets)
            return TRACKER_ADOPT_HELD;
        forget_adopted(tr, held);
        adopted = TRACKER_ADOPTED_AGAIN;
    } else if (held) {
        finish(tr, held, FINISH_IDLE); /* runs are adopted oldest first: a later flow of its tuple means it ended */
    }
    if (tr->table.count >= tr->max_flows && flow_table_evictable(&tr->table))
        finish(tr, flow_table_evictable(&tr->table), FINISH_MAX_FLOWS);
    struct flow *f = flow_table_insert(&tr->table, &src->key, now);
    if (f == NULL)
        return TRACKER_ADOPT_REFUSED;
    f->first_code = src->first_code;
    if (src->flags & FLOW_CLIENT_DATA)
        flow_table_mark_client_data(&tr->table, f);
    /* journaled whole, or not taken: the dead run's segments are deleted after this, and a second kill must find
     * every packet of it in this run's */
    int appended = adopt_records(tr, f, src);
    bool unjournaled = tr->journal && tr->journal->enabled && !(f->flags & FLOW_JOURNALED);
    if (appended != 0 || f->packets == 0 || unjournaled) {
        forget_adopted(tr, f);
        return TRACKER_ADOPT_REFUSED;
    }
    f->first_mono_us = now - (age < now ? age : now);
    f->last_mono_us = now - (idle < now ? idle : now);
    for (struct flow *o; tr->table.memory > tr->memory_limit && (o = flow_table_oldest(&tr->table)) && o != f;)
        finish(tr, o, FINISH_MEMORY);
    uint64_t captured = f->records_len - (uint64_t)f->packets * PCAPFILE_RECORD_HEADER_LEN;
    if (f->packets >= tr->max_packets)
        finish(tr, f, FINISH_CUT_PACKETS);
    else if (captured >= tr->max_bytes)
        finish(tr, f, FINISH_CUT_BYTES);
    return adopted;
}
