/* Synthetic Ethernet frames for the capturer's unit tests: IPv4/IPv6 with a TCP, UDP or ICMP header.
 * Checksums are left zero on purpose: the capturer must never look at them. */
#ifndef LURKER_TEST_CAPTURER_PACKETS_H
#define LURKER_TEST_CAPTURER_PACKETS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

struct test_frame {
    uint8_t bytes[2048];
    uint32_t len;
};

static inline void tf_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void tf_put32(uint8_t *p, uint32_t v)
{
    tf_put16(p, (uint16_t)(v >> 16));
    tf_put16(p + 2, (uint16_t)v);
}

/* Transport header for proto at p; returns its length. For ICMP sport/dport are type/code. */
static inline uint32_t tf_transport(uint8_t *p, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t flags,
                                    uint32_t seq, uint32_t ack)
{
    if (proto == IPPROTO_TCP) {
        memset(p, 0, 20);
        tf_put16(p, sport);
        tf_put16(p + 2, dport);
        tf_put32(p + 4, seq);
        tf_put32(p + 8, ack);
        p[12] = 5 << 4;
        p[13] = flags;
        tf_put16(p + 14, 65535);
        return 20;
    }
    if (proto == IPPROTO_UDP) {
        memset(p, 0, 8);
        tf_put16(p, sport);
        tf_put16(p + 2, dport);
        tf_put16(p + 4, 8);
        return 8;
    }
    memset(p, 0, 8);
    p[0] = (uint8_t)sport;
    p[1] = (uint8_t)dport;
    return 8;
}

/* An IPv4 frame src -> dst ("198.51.100.2" ...), with payload_len bytes of 'x' after the transport header. */
static inline void tf_ipv4(struct test_frame *f, const char *src, const char *dst, uint8_t proto, uint16_t sport,
                           uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t payload_len)
{
    memset(f->bytes, 0, sizeof f->bytes);
    tf_put16(f->bytes + 12, 0x0800);
    uint8_t *ip = f->bytes + 14;
    ip[0] = 0x45;
    ip[8] = 64;
    ip[9] = proto;
    inet_pton(AF_INET, src, ip + 12);
    inet_pton(AF_INET, dst, ip + 16);
    uint32_t l4 = tf_transport(ip + 20, proto, sport, dport, flags, seq, ack);
    memset(ip + 20 + l4, 'x', payload_len);
    tf_put16(ip + 2, (uint16_t)(20 + l4 + payload_len));
    f->len = 14 + 20 + l4 + payload_len;
}

/* An IPv6 frame with one hop-by-hop and one destination-options extension header before the transport. */
static inline void tf_ipv6_ext(struct test_frame *f, const char *src, const char *dst, uint8_t proto, uint16_t sport,
                               uint16_t dport, uint8_t flags)
{
    memset(f->bytes, 0, sizeof f->bytes);
    tf_put16(f->bytes + 12, 0x86dd);
    uint8_t *ip = f->bytes + 14;
    ip[0] = 0x60;
    ip[6] = 0; /* hop-by-hop */
    ip[7] = 64;
    inet_pton(AF_INET6, src, ip + 8);
    inet_pton(AF_INET6, dst, ip + 24);
    uint8_t *ext = ip + 40;
    ext[0] = 60; /* next: destination options */
    ext[1] = 0;  /* 8 bytes */
    ext[8] = proto;
    ext[9] = 1; /* 16 bytes */
    uint32_t l4 = tf_transport(ext + 24, proto, sport, dport, flags, 1000, 0);
    tf_put16(ip + 4, (uint16_t)(24 + l4));
    f->len = 14 + 40 + 24 + l4;
}

#endif
