#include "answer.h"

#include <string.h>
#include <sys/socket.h>

#include "packet_build.h"
#include "decode.h"

#define NS_PER_MS 1000000ULL

/* A 16-byte hash key for one table, from the per-start key and the table's name (unrelated across tables and starts;
 * the limiter's derivation is unchanged from when it was the only one). */
static void derive_key(const uint8_t key[SYNCOOKIE_KEY_BYTES], const char *name, uint8_t out[16])
{
    char label[32];
    size_t n = strlen(name);
    if (n > sizeof label - 2)
        n = sizeof label - 2;
    memcpy(label, name, n);
    uint64_t k = siphash24(key, label, n);
    memcpy(out, &k, 8);
    label[n] = '2';
    k = siphash24(key, label, n + 1);
    memcpy(out + 8, &k, 8);
}

int responder_init(struct responder *r, const struct lurker_config *cfg, const struct persona_host *host,
                   const uint8_t key[SYNCOOKIE_KEY_BYTES], struct raw_sender *sender, uint64_t now_ns)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->host = *host;
    memcpy(r->key, key, SYNCOOKIE_KEY_BYTES);
    r->sender = sender;
    /* a plausible uptime (1 to 60 days) derived from the per-start key: unrelated across starts, steady within one */
    uint64_t h = siphash24(key, "uptime", 6);
    r->ts_origin_ms = 86400000ULL + h % (59 * 86400000ULL);
    r->ip_id = (uint16_t)(h >> 32);
    for (size_t i = 0; i < cfg->responder.nbanners && i < 255; i++)
        r->banner_of_port[cfg->responder.banners[i].port] = (uint8_t)(i + 1);
    uint8_t limiter_key[16], flows_key[16];
    derive_key(key, "limiter", limiter_key);
    derive_key(key, "ackflows", flows_key);
    if (ack_path_init(&r->acks, flows_key) < 0)
        return -1;
    return rate_limiter_init(&r->limiter, cfg->responder.global_rate, cfg->responder.global_burst,
                             cfg->responder.source_rate, cfg->responder.source_burst, cfg->responder.source_buckets,
                             limiter_key, now_ns);
}

void responder_free(struct responder *r)
{
    rate_limiter_free(&r->limiter);
    ack_path_free(&r->acks);
}

static bool monitored(const struct responder *r, const struct ip_addr *a)
{
    return prefixes_contain(r->cfg->addresses, r->cfg->naddresses, a);
}

uint32_t responder_ts_clock(const struct responder *r, uint64_t now_ns)
{
    return (uint32_t)(r->ts_origin_ms + now_ns / NS_PER_MS);
}

static uint32_t flow_label(const struct responder *r, const struct decoded_packet *s)
{
    if (r->cfg->responder.persona != PERSONA_LINUX)
        return 0;
    return syncookie_isn(r->key, &s->src, &s->dst, s->sport, s->dport, 0xffffffffu) & 0xfffff;
}

void responder_send(struct responder *r, const struct decoded_packet *s, const struct tcp_shape *shape, uint32_t seq,
                    uint32_t ack, uint8_t flags, const uint8_t *payload, size_t payload_len, enum packet_kind kind)
{
    uint8_t *slot = raw_sender_slot(r->sender, &s->src);
    if (!slot)
        return;
    struct tcp_reply reply = {
        .src = &s->dst, .dst = &s->src, .sport = s->dport, .dport = s->sport, .seq = seq, .ack = ack,
        .flags = flags, .ip_id = r->ip_id, .flow_label = flow_label(r, s), .shape = shape,
        .payload = payload, .payload_len = payload_len,
    };
    if (shape->ipid_increments)
        r->ip_id++;
    raw_sender_commit(r->sender, &s->src, packet_build(&reply, slot, PACKET_MAX), kind);
}

static void answer_syn(struct responder *r, const struct decoded_packet *s, uint64_t now_ns, uint32_t coarse)
{
    r->counts.syn_seen++;
    if (!port_set_has(&r->cfg->responder.ports, s->dport)) {
        r->counts.port_excluded++;
        return;
    }
    switch (rate_limiter_check(&r->limiter, &s->src, now_ns)) {
    case RATE_LIMITED_GLOBAL:
        r->counts.rate_limited_global++;
        return;
    case RATE_LIMITED_SOURCE:
        r->counts.rate_limited_source++;
        return;
    case RATE_PASS:
        break;
    }
    struct tcp_shape shape;
    persona_synack(r->cfg->responder.persona, &r->host, s->src.family == AF_INET6, &s->tcp_opts,
                   responder_ts_clock(r, now_ns), &shape);
    uint32_t isn = syncookie_isn(r->key, &s->src, &s->dst, s->sport, s->dport, coarse);
    responder_send(r, s, &shape, isn, s->seq + 1, TCPF_SYN | TCPF_ACK, NULL, 0, PACKET_SYNACK);
}

void responder_handle(struct responder *r, const uint8_t *frame, size_t caplen, int linktype, uint64_t ts_us,
                      uint64_t now_ns, uint32_t coarse)
{
    struct decoded_packet s;
    /* a length of 0 is how Linux captures its own TSO/BIG TCP segments; a kernel drops it off the wire, and so do we
     * (answering it would tell a scanner this is not a kernel) */
    if (decode_packet(linktype, frame, caplen, &s) != DECODE_OK || s.proto != IPPROTO_TCP || s.ip_len_unset) {
        r->counts.malformed++;
        return;
    }
    if (!monitored(r, &s.dst)) {
        r->counts.not_ours++;
        return;
    }
    if ((s.tcp_flags & (TCPF_SYN | TCPF_ACK | TCPF_RST)) == TCPF_SYN)
        answer_syn(r, &s, now_ns, coarse);
    else if ((s.tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_ACK)
        ack_path_handle(r, &s, ts_us, now_ns, coarse);
}
