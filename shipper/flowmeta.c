/* Flow metadata for object keys: from a queue record, a spool file name, or the pcap's first packet. */
#include "flowmeta.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

void flow_meta_proto_name(uint8_t proto, char out[8])
{
    switch (proto) {
    case IPPROTO_TCP:
        snprintf(out, 8, "tcp");
        break;
    case IPPROTO_UDP:
        snprintf(out, 8, "udp");
        break;
    case IPPROTO_ICMP:
        snprintf(out, 8, "icmp");
        break;
    case IPPROTO_ICMPV6:
        snprintf(out, 8, "icmp6");
        break;
    default:
        snprintf(out, 8, "p%u", proto);
        break;
    }
}

static void format_addr(uint8_t family, const uint8_t bytes[16], char *out)
{
    struct ip_addr a;
    if (family == AF_INET)
        ip_addr_from_v4(&a, bytes + 12);
    else
        ip_addr_from_v6(&a, bytes);
    ip_addr_format_safe(&a, out, FLOWMETA_ADDR_MAX);
}

void flow_meta_from_record(const struct queue_record *rec, struct flow_meta *m)
{
    memset(m, 0, sizeof *m);
    m->first_us = rec->first_us;
    flow_meta_proto_name(rec->proto, m->proto);
    format_addr(rec->family, rec->src_addr, m->src);
    format_addr(rec->family, rec->dst_addr, m->dst);
    m->sport = rec->src_port;
    m->dport = rec->dst_port;
}

/* A field of the name: [start, end) up to the next '_' (or the end for the last one). */
static int next_field(const char **p, char *out, size_t outlen)
{
    const char *end = strchr(*p, '_');
    size_t n = end ? (size_t)(end - *p) : strlen(*p);
    if (n == 0 || n >= outlen)
        return -1;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n + (end ? 1 : 0);
    return 0;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s || strlen(s) > 20)
        return -1;
    uint64_t v = 0;
    for (const char *c = s; *c; c++) {
        if (!isdigit((unsigned char)*c))
            return -1;
        uint64_t d = (uint64_t)(*c - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int addr_text_ok(const char *s)
{
    for (const char *c = s; *c; c++)
        if (!isxdigit((unsigned char)*c) && *c != '.' && *c != '-')
            return 0;
    return *s != '\0';
}

static int proto_text_ok(const char *s)
{
    if (!strcmp(s, "tcp") || !strcmp(s, "udp") || !strcmp(s, "icmp") || !strcmp(s, "icmp6"))
        return 1;
    uint64_t v;
    return s[0] == 'p' && parse_uint(s + 1, 255, &v) == 0;
}

int flow_meta_from_name(const char *name, struct flow_meta *m)
{
    memset(m, 0, sizeof *m);
    if (batchname_parse(name, &m->first_us, m->seq)) {
        m->batch = true;
        return 0;
    }
    size_t n = strlen(name);
    if (n < 6 || n >= QUEUE_NAME_MAX || strcmp(name + n - 5, ".pcap") != 0)
        return -1;
    char stem[QUEUE_NAME_MAX];
    memcpy(stem, name, n - 5);
    stem[n - 5] = '\0';
    /* the capturer appends -N when two flows share a name; the last field is the port, so strip it there */
    const char *p = stem;
    char ts[24], proto[8], sport[8], dport[16];
    uint64_t v;
    if (next_field(&p, ts, sizeof ts) || parse_uint(ts, UINT64_MAX, &m->first_us))
        return -1;
    if (next_field(&p, proto, sizeof proto) || !proto_text_ok(proto))
        return -1;
    if (next_field(&p, m->src, sizeof m->src) || !addr_text_ok(m->src))
        return -1;
    if (next_field(&p, sport, sizeof sport) || parse_uint(sport, 65535, &v))
        return -1;
    m->sport = (uint16_t)v;
    if (next_field(&p, m->dst, sizeof m->dst) || !addr_text_ok(m->dst))
        return -1;
    if (next_field(&p, dport, sizeof dport) || *p)
        return -1;
    char *dash = strchr(dport, '-');
    if (dash) {
        uint64_t dup;
        if (parse_uint(dash + 1, 1000000, &dup) || dup == 0)
            return -1;
        *dash = '\0';
        m->duplicate = (uint32_t)dup;
    }
    if (parse_uint(dport, 65535, &v))
        return -1;
    m->dport = (uint16_t)v;
    snprintf(m->proto, sizeof m->proto, "%s", proto);
    return 0;
}

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Link-layer header length and the network protocol it carries (0x0800 / 0x86dd), or -1. */
static int link_offset(uint32_t linktype, const uint8_t *pkt, size_t len, uint16_t *ethertype)
{
    switch (linktype) {
    case 1: { /* Ethernet, with up to two VLAN tags */
        size_t off = 12;
        for (int tags = 0; tags < 3; tags++) {
            if (len < off + 2)
                return -1;
            uint16_t t = be16(pkt + off);
            if (t == 0x8100 || t == 0x88a8) {
                off += 4;
                continue;
            }
            *ethertype = t;
            return (int)off + 2;
        }
        return -1;
    }
    case 101: /* raw IP: version nibble decides */
    case 12:
    case 14:
        if (len < 1)
            return -1;
        *ethertype = (pkt[0] >> 4) == 6 ? 0x86dd : 0x0800;
        return 0;
    case 113: /* Linux cooked v1 */
        if (len < 16)
            return -1;
        *ethertype = be16(pkt + 14);
        return 16;
    case 276: /* Linux cooked v2 */
        if (len < 20)
            return -1;
        *ethertype = be16(pkt);
        return 20;
    default:
        return -1;
    }
}

int flow_meta_from_pcap(const uint8_t *buf, size_t len, struct flow_meta *m)
{
    memset(m, 0, sizeof *m);
    if (len < 24 + 16)
        return -1;
    uint32_t magic;
    memcpy(&magic, buf, 4);
    int swap, nanos;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
        swap = 0;
    else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
        swap = 1;
    else
        return -1;
    nanos = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
    uint32_t linktype = rd32(buf + 20, swap) & 0xffff;
    const uint8_t *rec = buf + 24;
    uint64_t sec = rd32(rec, swap), frac = rd32(rec + 4, swap);
    uint32_t caplen = rd32(rec + 8, swap);
    m->first_us = sec * 1000000u + (nanos ? frac / 1000 : frac);
    const uint8_t *pkt = rec + 16;
    size_t avail = len - 40;
    if (caplen < avail)
        avail = caplen;

    uint16_t ethertype = 0;
    int off = link_offset(linktype, pkt, avail, &ethertype);
    if (off < 0)
        return -1;
    const uint8_t *ip = pkt + off;
    size_t iplen = avail - (size_t)off;
    uint8_t proto;
    const uint8_t *l4;
    size_t l4len;
    uint8_t family;
    uint8_t src[16] = {0}, dst[16] = {0};
    if (ethertype == 0x0800 && iplen >= 20 && (ip[0] >> 4) == 4) {
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        if (ihl < 20 || iplen < ihl)
            return -1;
        family = AF_INET;
        proto = ip[9];
        src[10] = src[11] = dst[10] = dst[11] = 0xff;
        memcpy(src + 12, ip + 12, 4);
        memcpy(dst + 12, ip + 16, 4);
        l4 = ip + ihl;
        l4len = iplen - ihl;
    } else if (ethertype == 0x86dd && iplen >= 40 && (ip[0] >> 4) == 6) {
        family = AF_INET6;
        proto = ip[6]; /* extension headers are not followed: ports stay 0 for those */
        memcpy(src, ip + 8, 16);
        memcpy(dst, ip + 24, 16);
        l4 = ip + 40;
        l4len = iplen - 40;
    } else {
        return -1;
    }
    flow_meta_proto_name(proto, m->proto);
    format_addr(family, src, m->src);
    format_addr(family, dst, m->dst);
    if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && l4len >= 4) {
        m->sport = be16(l4);
        m->dport = be16(l4 + 2);
    } else if ((proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && l4len >= 2) {
        m->sport = l4[0]; /* type, code: as the capturer records them */
        m->dport = l4[1];
    }
    return 0;
}
