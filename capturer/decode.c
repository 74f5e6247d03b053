#include "decode.h"

#include <netinet/in.h>
#include <pcap/pcap.h>
#include <string.h>
#include <sys/socket.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define MAX_VLAN_TAGS 2
#define MAX_IPV6_EXT_HEADERS 8

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Finds the network-layer header: its offset and ethertype. Returns false if the frame carries no IP. */
static bool link_layer(int dlt, const uint8_t *d, size_t len, size_t *off, uint16_t *ethertype)
{
    switch (dlt) {
    case DLT_EN10MB: {
        if (len < 14)
            return false;
        size_t o = 12;
        uint16_t type = be16(d + o);
        for (int tags = 0; (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) && tags < MAX_VLAN_TAGS; tags++) {
            o += 4;
            if (len < o + 2)
                return false;
            type = be16(d + o);
        }
        *off = o + 2;
        *ethertype = type;
        return true;
    }
    case DLT_LINUX_SLL:
        if (len < 16)
            return false;
        *off = 16;
        *ethertype = be16(d + 14);
        return true;
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        if (len < 1)
            return false;
        *off = 0;
        *ethertype = (d[0] >> 4) == 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
        return true;
    default:
        return false;
    }
}

static void v4_mapped(uint8_t out[16], const uint8_t *four)
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, four, 4);
}

/* IPv4: fills addresses and protocol, returns the transport offset and length (or false if the header is broken).
 * *fragment is set for a non-first fragment, which has no transport header. */
static bool ipv4(const uint8_t *d, size_t len, struct decoded_packet *out, size_t *l4off, size_t *l4len,
                 bool *fragment)
{
    if (len < 20 || (d[0] >> 4) != 4)
        return false;
    size_t ihl = (size_t)(d[0] & 0x0f) * 4;
    size_t total = be16(d + 2);
    if (ihl < 20 || len < ihl || total < ihl)
        return false;
    out->family = AF_INET;
    out->proto = d[9];
    v4_mapped(out->src, d + 12);
    v4_mapped(out->dst, d + 16);
    *fragment = (be16(d + 6) & 0x1fff) != 0;
    size_t end = total < len ? total : len; /* ignore Ethernet padding; tolerate a cut capture */
    *l4off = ihl;
    *l4len = end - ihl;
    return true;
}

static bool ipv6_is_extension(uint8_t next)
{
    return next == 0 || next == 43 || next == 44 || next == 51 || next == 60 || next == 135 || next == 139 ||
           next == 140;
}

static bool ipv6(const uint8_t *d, size_t len, struct decoded_packet *out, size_t *l4off, size_t *l4len,
                 bool *fragment)
{
    if (len < 40 || (d[0] >> 4) != 6)
        return false;
    out->family = AF_INET6;
    memcpy(out->src, d + 8, 16);
    memcpy(out->dst, d + 24, 16);
    size_t payload = be16(d + 4);
    size_t end = 40 + payload < len ? 40 + payload : len;
    uint8_t next = d[6];
    size_t o = 40;
    *fragment = false;
    for (int n = 0; ipv6_is_extension(next); n++) {
        if (n == MAX_IPV6_EXT_HEADERS || end < o + 8) {
            /* too many or cut: keep the flow on addresses, the transport is unknown */
            out->proto = next;
            *l4off = end;
            *l4len = 0;
            return true;
        }
        uint8_t following = d[o];
        size_t hlen;
        if (next == 44) {
            hlen = 8;
            if ((be16(d + o + 2) & 0xfff8) != 0)
                *fragment = true;
        } else if (next == 51) {
            hlen = ((size_t)d[o + 1] + 2) * 4;
        } else {
            hlen = ((size_t)d[o + 1] + 1) * 8;
        }
        o += hlen;
        next = following;
        if (o > end)
            o = end;
    }
    out->proto = next;
    *l4off = o;
    *l4len = end - o;
    return true;
}

/* Echo and timestamp requests carry what the sender chose; errors quote our own packets (backscatter). */
static bool icmp_is_query(uint8_t proto, uint8_t type)
{
    if (proto == IPPROTO_ICMP)
        return type == 8 || type == 13;
    return type == 128;
}

static enum decode_result transport(const uint8_t *d, size_t len, struct decoded_packet *out)
{
    switch (out->proto) {
    case IPPROTO_TCP:
        if (len < 20)
            return DECODE_PARTIAL;
        out->sport = be16(d);
        out->dport = be16(d + 2);
        out->tcp_seq = be32(d + 4);
        out->tcp_ack = be32(d + 8);
        out->tcp_flags = d[13];
        out->payload_len = len > (size_t)(d[12] >> 4) * 4u ? (uint32_t)(len - (size_t)(d[12] >> 4) * 4u) : 0;
        return DECODE_OK;
    case IPPROTO_UDP:
        if (len < 8)
            return DECODE_PARTIAL;
        out->sport = be16(d);
        out->dport = be16(d + 2);
        out->payload_len = (uint32_t)(len - 8);
        return DECODE_OK;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        if (len < 2)
            return DECODE_PARTIAL;
        out->sport = d[0];
        out->dport = d[1];
        if (icmp_is_query(out->proto, d[0]) && len > 8)
            out->payload_len = (uint32_t)(len - 8);
        return DECODE_OK;
    default:
        return DECODE_OK; /* another protocol: a flow by addresses alone */
    }
}

enum decode_result decode_packet(int dlt, const uint8_t *data, size_t caplen, struct decoded_packet *out)
{
    memset(out, 0, sizeof *out);
    size_t off;
    uint16_t ethertype;
    if (!link_layer(dlt, data, caplen, &off, &ethertype))
        return DECODE_NOT_IP;
    const uint8_t *ip = data + off;
    size_t iplen = caplen - off;
    size_t l4off, l4len;
    bool fragment;
    bool ok;
    if (ethertype == ETHERTYPE_IPV4)
        ok = ipv4(ip, iplen, out, &l4off, &l4len, &fragment);
    else if (ethertype == ETHERTYPE_IPV6)
        ok = ipv6(ip, iplen, out, &l4off, &l4len, &fragment);
    else
        return DECODE_NOT_IP;
    if (!ok)
        return DECODE_NOT_IP;
    out->l4off = (uint32_t)(off + l4off);
    out->l4len = (uint32_t)l4len;
    if (fragment)
        return DECODE_PARTIAL;
    return transport(ip + l4off, l4len, out);
}
