#include "replay.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "flow_hash.h"
#include "journal_format.h"
#include "pcapfile.h"
#include "queue.h"

#define MIN_SLOTS 1024
static const uint8_t serial_key[16] = "lurker-replay-k"; /* serials come from our own process, not an attacker */

int replay_init(struct replay *r, const struct prefix *local, size_t nlocal, int dlt,
                const struct replay_limits *limits, flow_sink_fn sink, void *sink_arg)
{
    memset(r, 0, sizeof *r);
    r->keys.local = local;
    r->keys.nlocal = nlocal;
    r->keys.dlt = dlt;
    r->limits = *limits;
    r->sink = sink;
    r->sink_arg = sink_arg;
    TAILQ_INIT(&r->order);
    r->cap = MIN_SLOTS;
    r->slots = calloc(r->cap, sizeof *r->slots);
    return r->slots ? 0 : -1;
}

static size_t slot_of(const struct replay *r, uint64_t serial)
{
    return (size_t)flow_hash(serial_key, &serial, sizeof serial) & (r->cap - 1);
}

static struct replay_slot *find(struct replay *r, uint64_t serial)
{
    for (size_t i = slot_of(r, serial);; i = (i + 1) & (r->cap - 1)) {
        if (r->slots[i].serial == serial)
            return &r->slots[i];
        if (r->slots[i].serial == 0)
            return NULL;
    }
}

/* Puts the entry in the first free slot from its home (the table has one). */
static void place(struct replay *r, uint64_t serial, struct flow *f)
{
    size_t i = slot_of(r, serial);
    while (r->slots[i].serial != 0)
        i = (i + 1) & (r->cap - 1);
    r->slots[i].serial = serial;
    r->slots[i].flow = f;
}

static int grow(struct replay *r)
{
    struct replay_slot *old = r->slots;
    size_t old_cap = r->cap;
    struct replay_slot *fresh = calloc(old_cap * 2, sizeof *fresh);
    if (fresh == NULL)
        return -1;
    r->slots = fresh;
    r->cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].serial != 0)
            place(r, old[i].serial, old[i].flow);
    free(old);
    return 0;
}

static int insert(struct replay *r, uint64_t serial, struct flow *f)
{
    if ((r->used + 1) * 2 > r->cap && grow(r) != 0)
        return -1;
    place(r, serial, f);
    r->used++;
    return 0;
}

/* Linear probing: removal shifts the following entries of the cluster back, so lookups never need tombstones. */
static void erase(struct replay *r, struct replay_slot *s)
{
    size_t i = (size_t)(s - r->slots);
    for (size_t j = (i + 1) & (r->cap - 1); r->slots[j].serial != 0; j = (j + 1) & (r->cap - 1)) {
        size_t home = slot_of(r, r->slots[j].serial);
        /* j's entry may move to i unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            r->slots[i] = r->slots[j];
            i = j;
        }
    }
    r->slots[i].serial = 0;
    r->slots[i].flow = NULL;
    r->used--;
}

static void forget(struct replay *r, struct replay_slot *s)
{
    struct flow *f = s->flow;
    TAILQ_REMOVE(&r->order, f, order);
    r->acct.memory -= f->records_cap;
    erase(r, s);
    f->journal_serial = 0; /* not journaled by this run: nothing to report when it is written */
}

static void hand_out(struct replay *r, struct replay_slot *s)
{
    struct flow *f = s->flow;
    forget(r, s);
    f->flags = (f->flags & FLOW_CLIENT_DATA) | FLOW_EARLY | FLOW_TRUNCATED;
    r->stats.flows_out++;
    r->sink(r->sink_arg, f);
}

static uint64_t captured_bytes(const struct flow *f)
{
    return f->records_len - (uint64_t)f->packets * PCAPFILE_RECORD_HEADER_LEN;
}

/* At max_flow_packets or max_flow_bytes: where capture cuts a flow (tracker.c). */
static bool flow_full(const struct replay *r, const struct flow *f)
{
    return f->packets >= r->limits.max_flow_packets || captured_bytes(f) >= r->limits.max_flow_bytes;
}

static void packet(struct replay *r, const struct jrec *rec)
{
    struct decoded_packet p;
    enum decode_result dr = decode_packet(r->keys.dlt, rec->data, rec->len, &p);
    struct flow_key key;
    int inbound = 1;
    if (dr != DECODE_NOT_IP)
        tracker_flow_key(&r->keys, &p, &key, &inbound);
    struct replay_slot *s = find(r, rec->serial);
    struct flow *f = s ? s->flow : NULL;
    if (f && flow_full(r, f)) {
        /* capture would have finished it here and given the next packet a new serial: a journal that goes on is
         * damaged or forged; what it holds still comes out, in flows no larger than capture makes */
        r->stats.flows_cut++;
        hand_out(r, s);
        s = NULL;
        f = NULL;
    }
    if (f == NULL) {
        if (dr == DECODE_NOT_IP || (f = calloc(1, sizeof *f)) == NULL) {
            r->stats.packets_skipped++;
            return;
        }
        f->key = key;
        f->journal_serial = rec->serial; /* while replayed: the way back from the order list to the slot */
        if (p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6)
            f->first_code = p.icmp_code;
        if (insert(r, rec->serial, f) != 0) {
            free(f);
            r->stats.packets_skipped++;
            return;
        }
        s = find(r, rec->serial);
    } else {
        TAILQ_REMOVE(&r->order, f, order);
    }
    TAILQ_INSERT_TAIL(&r->order, f, order);
    /* the same cut as capture (tracker.c): bytes kept per flow up to max_flow_bytes, then the flow is finished */
    uint64_t captured = captured_bytes(f);
    uint64_t room = r->limits.max_flow_bytes > captured ? r->limits.max_flow_bytes - captured : 0;
    uint32_t keep = rec->len < room ? rec->len : (uint32_t)room;
    size_t max_records =
        (size_t)r->limits.max_flow_bytes + (size_t)r->limits.max_flow_packets * PCAPFILE_RECORD_HEADER_LEN;
    if (flow_append(&r->acct, f, rec->ts_us, rec->data, keep, rec->origlen, max_records) != 0) {
        r->stats.packets_skipped++;
        if (f->packets == 0) {
            forget(r, s);
            flow_table_release(f);
        }
        return;
    }
    if (r->acct.memory > r->stats.memory_peak)
        r->stats.memory_peak = r->acct.memory;
    tracker_track_client_data(f, &p, dr, inbound);
    while (r->acct.memory > r->limits.memory_limit && !TAILQ_EMPTY(&r->order)) {
        struct replay_slot *o = find(r, TAILQ_FIRST(&r->order)->journal_serial);
        if (o == NULL)
            break;
        r->stats.flows_cut++;
        hand_out(r, o);
    }
}

void replay_records(struct replay *r, const uint8_t *buf, size_t len)
{
    r->stats.segments++;
    size_t off = 0;
    for (;;) {
        struct jrec rec;
        size_t used = 0;
        enum jrec_result res = jrec_parse(buf + off, len - off, &rec, &used);
        if (res == JREC_END)
            return;
        if (res == JREC_BAD) {
            r->stats.bad_tails++;
            return;
        }
        off += used;
        r->stats.records++;
        if (rec.type == JREC_PACKET) {
            packet(r, &rec);
        } else {
            struct replay_slot *s = find(r, rec.serial);
            if (s && r->done_counts && !r->done_counts(r->done_arg, rec.data, rec.len))
                s = NULL; /* its batch was never published: the flow is still to be written */
            if (s) {
                struct flow *f = s->flow;
                forget(r, s);
                flow_table_release(f);
                r->stats.flows_done++;
            }
        }
    }
}

void replay_finish(struct replay *r)
{
    /* least recently fed first, as expiry would have finished them */
    while (!TAILQ_EMPTY(&r->order)) {
        struct replay_slot *s = find(r, TAILQ_FIRST(&r->order)->journal_serial);
        if (s == NULL)
            break;
        hand_out(r, s);
    }
}

void replay_destroy(struct replay *r)
{
    struct flow *f;
    while ((f = TAILQ_FIRST(&r->order)) != NULL) {
        struct replay_slot *s = find(r, f->journal_serial);
        if (s == NULL)
            break;
        forget(r, s);
        flow_table_release(f);
    }
    free(r->slots);
    r->slots = NULL;
}
