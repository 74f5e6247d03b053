/* Each persona's option layout follows that system's own code, not a captured sample: Linux's tcp_options_write()
 * (MSS first, SACK-permitted folded into the timestamp's padding, NOP before window scale), FreeBSD's tcp_addoptions()
 * (each option aligned by NOPs, EOL padding to a multiple of 4) and the layout Windows 10/11 and Server 2019+
 * answer with (MSS, NOP+WS, NOP+NOP+SACK-permitted; timestamps off, as Windows ships). */
#include "persona.h"

#include <string.h>

struct option_writer {
    uint8_t *buf;
    size_t len;
};

static void put(struct option_writer *w, uint8_t byte)
{
    if (w->len < TCP_OPTIONS_MAX)
        w->buf[w->len++] = byte;
}

static void put_mss(struct option_writer *w, uint16_t mss)
{
    put(w, 2);
    put(w, 4);
    put(w, (uint8_t)(mss >> 8));
    put(w, (uint8_t)mss);
}

static void put_wscale(struct option_writer *w, uint8_t shift)
{
    put(w, 3);
    put(w, 3);
    put(w, shift);
}

static void put_sack_permitted(struct option_writer *w)
{
    put(w, 4);
    put(w, 2);
}

static void put_timestamp(struct option_writer *w, uint32_t val, uint32_t ecr)
{
    put(w, 8);
    put(w, 10);
    for (int i = 3; i >= 0; i--)
        put(w, (uint8_t)(val >> (8 * i)));
    for (int i = 3; i >= 0; i--)
        put(w, (uint8_t)(ecr >> (8 * i)));
}

static void pad_eol(struct option_writer *w)
{
    while (w->len % 4)
        put(w, 0);
}

/* Largest multiple of the effective MSS that fits 16 bits: what tcp_select_initial_window() leaves for a SYN+ACK. */
static uint16_t linux_initial_window(uint16_t mss, bool timestamps)
{
    uint32_t emss = mss - (timestamps ? 12u : 0u);
    if (emss == 0)
        return 65535;
    return (uint16_t)((65535u / emss) * emss);
}

static void linux_synack(const struct persona_host *host, bool ipv6, const struct tcp_options *o, uint32_t ts_now,
                         struct tcp_shape *out, struct option_writer *w)
{
    uint16_t mss = ipv6 ? host->mss_v6 : host->mss_v4;
    out->ttl = 64;
    out->df = true;
    out->ipid_increments = false;
    out->window = linux_initial_window(mss, o->has_timestamp);
    put_mss(w, mss);
    if (o->has_timestamp) {
        if (o->sack_permitted) {
            put_sack_permitted(w);
        } else {
            put(w, 1);
            put(w, 1);
        }
        put_timestamp(w, ts_now, o->ts_val);
    } else if (o->sack_permitted) {
        put(w, 1);
        put(w, 1);
        put_sack_permitted(w);
    }
    if (o->has_wscale) {
        put(w, 1);
        put_wscale(w, host->linux_wscale);
    }
}

static void freebsd_synack(const struct persona_host *host, bool ipv6, const struct tcp_options *o, uint32_t ts_now,
                           struct tcp_shape *out, struct option_writer *w)
{
    out->ttl = 64;
    out->df = true;
    out->ipid_increments = false; /* net.inet.ip.rfc6864=1: ID 0 on atomic datagrams */
    out->window = 65535;
    put_mss(w, ipv6 ? host->mss_v6 : host->mss_v4);
    if (o->has_wscale) {
        while (w->len % 2 != 1)
            put(w, 1);
        put_wscale(w, 6);
    }
    if (o->sack_permitted) {
        while (w->len % 2 != 0)
            put(w, 1);
        put_sack_permitted(w);
    }
    if (o->has_timestamp) {
        while (w->len % 4 != 2)
            put(w, 1);
        put_timestamp(w, ts_now, o->ts_val);
    }
    pad_eol(w);
}

static void windows_synack(const struct persona_host *host, bool ipv6, const struct tcp_options *o,
                           struct tcp_shape *out, struct option_writer *w)
{
    out->ttl = 128;
    out->df = true;
    out->ipid_increments = true;
    out->window = 65535;
    put_mss(w, ipv6 ? host->mss_v6 : host->mss_v4);
    if (o->has_wscale) {
        put(w, 1);
        put_wscale(w, 8);
    }
    if (o->sack_permitted) {
        put(w, 1);
        put(w, 1);
        put_sack_permitted(w);
    }
    pad_eol(w);
}

void persona_synack(enum persona p, const struct persona_host *host, bool ipv6, const struct tcp_options *offer,
                    uint32_t ts_now, struct tcp_shape *out)
{
    memset(out, 0, sizeof *out);
    struct option_writer w = {out->options, 0};
    switch (p) {
    case PERSONA_WINDOWS:
        windows_synack(host, ipv6, offer, out, &w);
        break;
    case PERSONA_FREEBSD:
        freebsd_synack(host, ipv6, offer, ts_now, out, &w);
        break;
    case PERSONA_LINUX:
    default:
        linux_synack(host, ipv6, offer, ts_now, out, &w);
        break;
    }
    out->options_len = w.len;
}

void persona_established(enum persona p, const struct persona_host *host, bool ipv6, const struct tcp_options *client,
                         uint32_t ts_now, struct tcp_shape *out)
{
    memset(out, 0, sizeof *out);
    struct option_writer w = {out->options, 0};
    uint16_t mss = ipv6 ? host->mss_v6 : host->mss_v4;
    bool echo_ts = client->has_timestamp && p != PERSONA_WINDOWS;
    switch (p) {
    case PERSONA_WINDOWS:
        out->ttl = 128;
        out->ipid_increments = true;
        out->window = 1026; /* 262656 >> 8, the receive window Windows reports after the handshake */
        break;
    case PERSONA_FREEBSD:
        out->ttl = 64;
        out->window = 1027; /* 65728 >> 6 */
        break;
    case PERSONA_LINUX:
    default:
        out->ttl = 64;
        out->window = (uint16_t)(linux_initial_window(mss, echo_ts) >> host->linux_wscale);
        break;
    }
    out->df = true;
    if (echo_ts) {
        put(&w, 1);
        put(&w, 1);
        put_timestamp(&w, ts_now, client->ts_val);
    }
    out->options_len = w.len;
}
