#include "packet.h"

#include <string.h>

static uint16_t be16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Transport header at l4 (len bytes captured of an IP payload that claims `claimed` bytes). */
static enum packet_status decode_transport(const uint8_t *l4, size_t len, size_t claimed, struct packet *p)
{
    switch (p->proto) {
    case IPPROTO_NUM_TCP: {
        if (len < 20)
            return PACKET_MALFORMED;
        size_t hlen = (size_t)(l4[12] >> 4) * 4;
        if (hlen < 20 || hlen > len)
            return PACKET_MALFORMED;
        p->sport = be16(l4);
        p->dport = be16(l4 + 2);
        p->seq = be32(l4 + 4);
        p->ack = be32(l4 + 8);
        p->tcp_flags = l4[13];
        p->payload = l4 + hlen;
        p->payload_len = (uint32_t)(len - hlen);
        p->payload_clipped = claimed > len;
        return PACKET_OK;
    }
    case IPPROTO_NUM_UDP: {
        if (len < 8)
            return PACKET_MALFORMED;
        size_t ulen = be16(l4 + 4);
        if (ulen < 8)
            ulen = claimed; /* jumbograms and broken lengths: trust the IP length */
        p->sport = be16(l4);
        p->dport = be16(l4 + 2);
        p->payload = l4 + 8;
        size_t avail = len - 8;
        size_t want = ulen - 8;
        p->payload_len = (uint32_t)(want < avail ? want : avail);
        p->payload_clipped = want > avail;
        return PACKET_OK;
    }
    case IPPROTO_NUM_ICMP:
    case IPPROTO_NUM_ICMPV6:
        if (len < 4)
            return PACKET_MALFORMED;
        p->icmp_type = l4[0];
        p->icmp_code = l4[1];
        p->payload = l4 + 4;
        p->payload_len = (uint32_t)(len - 4);
        p->payload_clipped = claimed > len;
        return PACKET_OK;
    default:
        return PACKET_UNSUPPORTED;
    }
}

static enum packet_status decode_ipv4(const uint8_t *b, size_t len, struct packet *p)
{
    if (len < 20 || b[0] >> 4 != 4)
        return PACKET_MALFORMED;
    size_t hlen = (size_t)(b[0] & 0x0f) * 4;
    size_t total = be16(b + 2);
    if (hlen < 20 || hlen > len)
        return PACKET_MALFORMED;
    if (total == 0)
        total = len; /* TSO-captured frames carry 0 */
    if (total < hlen)
        return PACKET_MALFORMED;
    p->family = 4;
    p->proto = b[9];
    memcpy(p->src, b + 12, 4);
    memcpy(p->dst, b + 16, 4);
    p->ip_len = (uint32_t)total;
    uint16_t frag = be16(b + 6);
    if ((frag & 0x1fff) != 0 || (frag & 0x2000) != 0)
        return PACKET_FRAGMENT;
    size_t avail = (total < len ? total : len) - hlen; /* ignore Ethernet padding after the datagram */
    return decode_transport(b + hlen, avail, total - hlen, p);
}

static bool ipv6_extension(uint8_t nh)
{
    return nh == 0 || nh == 43 || nh == 44 || nh == 51 || nh == 60 || nh == 135 || nh == 139 || nh == 140;
}

static enum packet_status decode_ipv6(const uint8_t *b, size_t len, struct packet *p)
{
    if (len < 40 || b[0] >> 4 != 6)
        return PACKET_MALFORMED;
    size_t plen = be16(b + 4);
    if (plen == 0)
        plen = len - 40; /* jumbo payload option or TSO */
    p->family = 6;
    memcpy(p->src, b + 8, 16);
    memcpy(p->dst, b + 24, 16);
    p->ip_len = (uint32_t)(40 + plen);
    size_t end = 40 + plen < len ? 40 + plen : len;
    size_t off = 40;
    uint8_t nh = b[6];
    for (int n = 0; ipv6_extension(nh); n++) {
        if (n >= IPV6_MAX_EXTENSION_HEADERS || end - off < 8)
            return PACKET_MALFORMED;
        size_t elen;
        if (nh == 44) { /* fragment header: only an unfragmented "atomic" fragment is usable */
            uint16_t fo = be16(b + off + 2);
            if ((fo & 0xfff9) != 0)
                return PACKET_FRAGMENT;
            elen = 8;
        } else if (nh == 51) {
            elen = ((size_t)b[off + 1] + 2) * 4;
        } else {
            elen = ((size_t)b[off + 1] + 1) * 8;
        }
        if (elen > end - off)
            return PACKET_MALFORMED;
        nh = b[off];
        off += elen;
    }
    p->proto = nh;
    size_t claimed = 40 + plen > off ? 40 + plen - off : 0;
    return decode_transport(b + off, end - off, claimed, p);
}

static enum packet_status decode_ip(const uint8_t *b, size_t len, struct packet *p)
{
    if (len < 1)
        return PACKET_MALFORMED;
    switch (b[0] >> 4) {
    case 4:
        return decode_ipv4(b, len, p);
    case 6:
        return decode_ipv6(b, len, p);
    default:
        return PACKET_UNSUPPORTED;
    }
}

static enum packet_status decode_ethertype(uint16_t type, const uint8_t *b, size_t len, struct packet *p)
{
    if (type == 0x0800 || type == 0x86dd)
        return decode_ip(b, len, p);
    return PACKET_UNSUPPORTED;
}

enum packet_status analyzer_packet_decode(uint32_t linktype, const uint8_t *data, size_t caplen, struct packet *p)
{
    memset(p, 0, sizeof *p);
    switch (linktype) {
    case LINKTYPE_ETHERNET: {
        if (caplen < 14)
            return PACKET_MALFORMED;
        size_t off = 12;
        uint16_t type = be16(data + off);
        for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
            off += 4;
            if (caplen < off + 2)
                return PACKET_MALFORMED;
            type = be16(data + off);
        }
        return decode_ethertype(type, data + off + 2, caplen - off - 2, p);
    }
    case LINKTYPE_RAW:
    case 12: /* DLT_RAW on most systems */
    case 14: /* DLT_RAW on OpenBSD */
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
        return decode_ip(data, caplen, p);
    case LINKTYPE_LINUX_SLL:
        if (caplen < 16)
            return PACKET_MALFORMED;
        return decode_ethertype(be16(data + 14), data + 16, caplen - 16, p);
    case LINKTYPE_LINUX_SLL2:
        if (caplen < 20)
            return PACKET_MALFORMED;
        return decode_ethertype(be16(data), data + 20, caplen - 20, p);
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
        /* a 4-byte address family in the writer's byte order; the IP version nibble is unambiguous */
        if (caplen < 4)
            return PACKET_MALFORMED;
        return decode_ip(data + 4, caplen - 4, p);
    default:
        return PACKET_UNSUPPORTED;
    }
}
