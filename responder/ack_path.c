#include "ack_path.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "answer.h"

int ack_path_init(struct ack_path *a, const uint8_t hash_key[16])
{
    memset(a, 0, sizeof *a);
    a->ephemeral = EPHEMERAL_PORTS_DEFAULT; /* until the caller sets the host's own */
    a->waiting = calloc(ACK_PATH_WAITING, sizeof *a->waiting);
    if (!a->waiting)
        return -1;
    return seq_table_init(&a->flows, ACK_PATH_FLOWS, hash_key);
}

void ack_path_free(struct ack_path *a)
{
    seq_table_free(&a->flows);
    free(a->waiting);
    a->waiting = NULL;
}

static void flow_of(const struct decoded_packet *s, struct seq_flow *f)
{
    memset(f, 0, sizeof *f);
    memcpy(f->src, s->src.bytes, 16);
    memcpy(f->dst, s->dst.bytes, 16);
    f->sport = s->sport;
    f->dport = s->dport;
}

/* Not a connection we answered. On a sensor whose monitored address is also the host's own (one interface), the
 * host's own connections (the shipper's uploads, the metadata service) deliver their segments here too, always to
 * a local port of the host's ephemeral range: counted apart, so they do not pass for spoofing. */
static void count_invalid(struct ack_path *a, uint16_t dport)
{
    if (port_range_has(a->ephemeral, dport))
        a->counts.cookie_invalid_ephemeral++;
    else
        a->counts.cookie_invalid++;
}

/* The flow's entry, its ISN checked against the client's acknowledgement number; for a flow the table does not
 * hold (or holds with another ISN: the 4-tuple came back in a later cookie slot), the SYN cookie decides and the
 * entry starts at this segment, like a SYN-cookie stack that takes the client's start from the first ACK it sees.
 * *acked is how much of what we sent after the SYN+ACK (banner, then FIN: `ours` bytes + 1) the client has
 * acknowledged. NULL: not ours (counted), or a segment that needs no entry (a RST, the ACK of our FIN). */
static struct seq_entry *flow_entry(struct responder *r, const struct decoded_packet *s, uint32_t ours, uint32_t coarse,
                                    uint32_t *acked)
{
    struct ack_path *a = &r->acks;
    struct seq_flow key;
    flow_of(s, &key);
    struct seq_entry *e = seq_table_find(&a->flows, &key);
    if (e && (*acked = s->ack - 1 - e->isn) <= ours + 1)
        return e;
    if (s->tcp_flags & TCPF_RST)
        return NULL; /* nothing of ours to forget: not worth a cookie */
    uint32_t isn;
    if (!syncookie_ack_isn(r->key, &s->src, &s->dst, s->sport, s->dport, s->ack, ours + 1, coarse, &isn)) {
        count_invalid(a, s->dport);
        return NULL;
    }
    *acked = s->ack - 1 - isn;
    if (*acked == ours + 1) { /* the last ACK of a conversation we closed and forgot */
        if (e)
            seq_table_forget(&a->flows, e);
        return NULL;
    }
    if (e) {
        a->counts.resyncs++;
    } else {
        bool evicted;
        e = seq_table_add(&a->flows, &key, &evicted);
        a->counts.evictions += evicted;
    }
    e->isn = isn;
    e->next = s->seq;
    return e;
}

static void send_answer(struct responder *r, const struct waiting_answer *w, uint64_t now_ns)
{
    const struct responder_config *rc = &r->cfg->responder;
    struct tcp_shape shape;
    persona_established(rc->persona, &r->host, w->seg.src.family == AF_INET6, &w->seg.tcp_opts,
                        responder_ts_clock(r, now_ns), &shape);
    const struct banner *b = w->banner ? &rc->banners[w->banner - 1] : NULL;
    responder_send(r, &w->seg, &shape, w->seq, w->ack, w->flags, b ? (const uint8_t *)b->text : NULL,
                   b ? b->len : 0, (enum packet_kind)w->kind);
}

static enum recording recorded(const struct ack_path *a, uint64_t ts_us)
{
    return a->recording ? a->recording(a->recording_arg, ts_us) : RECORDING_DONE;
}

/* The capturer will not record the segment: as if it never arrived. Its flow's entry goes too (the next byte
 * expected moved past it), so what the client sends again starts the flow afresh and is acknowledged then. */
static void forget_unrecorded(struct ack_path *a, const struct decoded_packet *s)
{
    struct seq_flow key;
    flow_of(s, &key);
    struct seq_entry *e = seq_table_find(&a->flows, &key);
    if (e)
        seq_table_forget(&a->flows, e);
    a->counts.held_not_recording++;
}

uint32_t ack_path_release(struct responder *r, uint64_t now_ns)
{
    struct ack_path *a = &r->acks;
    while (a->waiting_count) {
        struct waiting_answer *w = &a->waiting[a->waiting_head];
        enum recording state = recorded(a, w->ts_us);
        if (state == RECORDING_WAIT && now_ns - w->queued_ns < ACK_PATH_WAIT_MAX_NS)
            break; /* in arrival order: the ones behind it are not recorded either */
        if (state == RECORDING_DONE)
            send_answer(r, w, now_ns);
        else
            forget_unrecorded(a, &w->seg);
        a->waiting_head = (a->waiting_head + 1) % ACK_PATH_WAITING;
        a->waiting_count--;
    }
    return a->waiting_count;
}

void ack_path_handle(struct responder *r, const struct decoded_packet *s, uint64_t ts_us, uint64_t now_ns,
                     uint32_t coarse)
{
    struct ack_path *a = &r->acks;
    const struct responder_config *rc = &r->cfg->responder;
    if (!port_set_has(&rc->ports, s->dport))
        return; /* an excluded port belongs to a real service on this address: never touched */
    uint8_t idx = r->banner_of_port[s->dport];
    if (!rc->ack_data && idx == 0)
        return;
    const struct banner *b = idx ? &rc->banners[idx - 1] : NULL;
    uint32_t ours = b ? (uint32_t)b->len : 0, acked = 0;
    struct seq_entry *e = flow_entry(r, s, ours, coarse, &acked);
    if (!e)
        return;
    if ((s->tcp_flags & TCPF_RST) || acked == ours + 1) {
        seq_table_forget(&a->flows, e); /* the client reset, or acknowledged our FIN: the conversation is over */
        return;
    }

    uint32_t len = (uint32_t)s->payload_wire_len + ((s->tcp_flags & TCPF_FIN) ? 1u : 0u);
    bool banner_due = b && acked == 0;
    if (!len && !banner_due)
        return; /* a bare ACK: nothing to acknowledge (a real stack does not ACK an ACK) */
    enum recording state = recorded(a, ts_us);
    if (state == RECORDING_DOWN || (state == RECORDING_WAIT && a->waiting_count == ACK_PATH_WAITING)) {
        a->counts.held_not_recording++; /* as if it never arrived: the client sends it again */
        return;
    }
    switch (seq_accept(&e->next, s->seq, len, ACK_PATH_WINDOW)) {
    case SEQ_IN_ORDER:
        break;
    case SEQ_OLD:
        a->counts.duplicate += len != 0;
        break;
    case SEQ_AHEAD:
        a->counts.out_of_order += len != 0;
        break;
    case SEQ_OUT_OF_WINDOW: /* the 4-tuple reused under the same cookie: a new conversation starts here */
        a->counts.resyncs++;
        e->next = s->seq + len;
        break;
    }
    bool fin = (s->tcp_flags & TCPF_FIN) && e->next == s->seq + len; /* the FIN and everything before it arrived */
    if (rate_limiter_check(&r->limiter, &s->src, now_ns) != RATE_PASS) {
        a->counts.rate_limited++;
    } else {
        struct waiting_answer w = {.seg = *s, .ack = e->next, .ts_us = ts_us, .queued_ns = now_ns};
        w.seg.payload = NULL;
        w.seg.payload_len = 0;
        w.flags = TCPF_ACK | (fin ? TCPF_FIN : 0);
        if (banner_due) { /* (again, if it was lost) */
            w.seq = e->isn + 1;
            w.flags |= TCPF_PSH;
            w.banner = idx;
            w.kind = PACKET_BANNER;
        } else {
            w.seq = s->ack;
            w.kind = fin ? PACKET_FIN : PACKET_ACK;
        }
        if (state == RECORDING_DONE && a->waiting_count == 0) {
            send_answer(r, &w, now_ns);
        } else {
            a->waiting[(a->waiting_head + a->waiting_count) % ACK_PATH_WAITING] = w;
            a->waiting_count++;
        }
    }
    if (fin)
        seq_table_forget(&a->flows, e); /* a retransmitted FIN finds no entry and is answered the same way */
}
