/* A client's TCP SYN (IPv4 or IPv6 header, an optional MSS option, both checksums) for the flood helpers, written
 * here and not with the responder's packet builder: a test must not check the responder with the responder's code. */
#ifndef LURKER_TEST_SYN_PACKET_H
#define LURKER_TEST_SYN_PACKET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SYN_PACKET_MAX (40 + 24)

struct syn_spec {
    bool ipv6;
    const uint8_t *src, *dst; /* 4 or 16 bytes, network order */
    uint16_t sport, dport;
    uint32_t seq;
    uint16_t ip_id;           /* IPv4 */
    uint16_t mss;             /* 0: no options */
};

static inline void syn_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline uint32_t syn_sum(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    return sum;
}

static inline uint16_t syn_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Writes the SYN (TTL 64, window 1024, no DF) into out; returns its length. */
static inline size_t syn_build(uint8_t out[SYN_PACKET_MAX], const struct syn_spec *s)
{
    size_t ip_len = s->ipv6 ? 40 : 20, addr_len = s->ipv6 ? 16 : 4, tcp_len = s->mss ? 24 : 20;
    memset(out, 0, ip_len + tcp_len);
    uint8_t *tcp = out + ip_len;
    if (s->ipv6) {
        out[0] = 0x60;
        syn_put16(out + 4, (uint16_t)tcp_len);
        out[6] = IPPROTO_TCP;
        out[7] = 64;
        memcpy(out + 8, s->src, 16);
        memcpy(out + 24, s->dst, 16);
    } else {
        out[0] = 0x45;
        syn_put16(out + 2, (uint16_t)(20 + tcp_len));
        syn_put16(out + 4, s->ip_id);
        out[8] = 64;
        out[9] = IPPROTO_TCP;
        memcpy(out + 12, s->src, 4);
        memcpy(out + 16, s->dst, 4);
        syn_put16(out + 10, syn_fold(syn_sum(0, out, 20)));
    }
    syn_put16(tcp, s->sport);
    syn_put16(tcp + 2, s->dport);
    syn_put16(tcp + 4, (uint16_t)(s->seq >> 16));
    syn_put16(tcp + 6, (uint16_t)s->seq);
    tcp[12] = (uint8_t)(tcp_len / 4 << 4);
    tcp[13] = 0x02; /* SYN */
    syn_put16(tcp + 14, 1024);
    if (s->mss) {
        tcp[20] = 2;
        tcp[21] = 4;
        syn_put16(tcp + 22, s->mss);
    }
    /* pseudo-header: both addresses, the protocol and the TCP length */
    uint32_t sum = syn_sum(syn_sum(IPPROTO_TCP + (uint32_t)tcp_len, s->src, addr_len), s->dst, addr_len);
    syn_put16(tcp + 16, syn_fold(syn_sum(sum, tcp, tcp_len)));
    return ip_len + tcp_len;
}

#endif
