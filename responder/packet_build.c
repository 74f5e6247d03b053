#include "packet_build.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t sum_bytes(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint16_t tcp_checksum(const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment, size_t len)
{
    uint32_t sum = 0;
    if (src->family == AF_INET) {
        sum = sum_bytes(sum, ip_addr_v4(src), 4);
        sum = sum_bytes(sum, ip_addr_v4(dst), 4);
    } else {
        sum = sum_bytes(sum, src->bytes, 16);
        sum = sum_bytes(sum, dst->bytes, 16);
    }
    sum += IPPROTO_TCP;
    sum += (uint32_t)len;
    sum = sum_bytes(sum, segment, len);
    return fold(sum);
}

size_t packet_build(const struct tcp_reply *r, uint8_t *out, size_t cap)
{
    const struct tcp_shape *s = r->shape;
    bool v6 = r->src->family == AF_INET6;
    size_t ip_len = v6 ? 40 : 20;
    size_t tcp_len = 20 + s->options_len;
    size_t total = ip_len + tcp_len + r->payload_len;
    if (total > cap || s->options_len % 4 || s->options_len > TCP_OPTIONS_MAX)
        return 0;

    uint8_t *ip = out, *tcp = out + ip_len;
    memset(out, 0, ip_len + 20);
    if (v6) {
        put32(ip, 6u << 28 | (r->flow_label & 0xfffff));
        put16(ip + 4, (uint16_t)(tcp_len + r->payload_len));
        ip[6] = IPPROTO_TCP;
        ip[7] = s->ttl;
        memcpy(ip + 8, r->src->bytes, 16);
        memcpy(ip + 24, r->dst->bytes, 16);
    } else {
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)total);
        put16(ip + 4, s->ipid_increments ? r->ip_id : 0);
        put16(ip + 6, s->df ? 0x4000 : 0);
        ip[8] = s->ttl;
        ip[9] = IPPROTO_TCP;
        memcpy(ip + 12, ip_addr_v4(r->src), 4);
        memcpy(ip + 16, ip_addr_v4(r->dst), 4);
        /* header checksum: filled in by the raw socket, but computed here too so a packet socket could send it */
        put16(ip + 10, fold(sum_bytes(0, ip, 20)));
    }

    put16(tcp, r->sport);
    put16(tcp + 2, r->dport);
    put32(tcp + 4, r->seq);
    put32(tcp + 8, r->ack);
    tcp[12] = (uint8_t)((tcp_len / 4) << 4);
    tcp[13] = r->flags;
    put16(tcp + 14, s->window);
    memcpy(tcp + 20, s->options, s->options_len);
    if (r->payload_len)
        memcpy(tcp + tcp_len, r->payload, r->payload_len);
    put16(tcp + 16, tcp_checksum(r->src, r->dst, tcp, tcp_len + r->payload_len));
    return total;
}
