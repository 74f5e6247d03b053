#include "decode.h"

#include <pcap/dlt.h>
#include <string.h>
#include <sys/socket.h>

#include "cursor.h"
#include "pcapfile.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define MAX_VLAN_TAGS 2
#define DLT_RAW_OPENBSD 14

void tcp_options_parse(const uint8_t *opts, size_t len, struct tcp_options *o)
{
    memset(o, 0, sizeof *o);
    size_t i = 0;
    while (i < len) {
        uint8_t kind = opts[i];
        if (kind == 0) /* EOL */
            return;
        if (kind == 1) { /* NOP */
            i++;
            continue;
        }
        if (i + 1 >= len)
            return;
        uint8_t olen = opts[i + 1];
        if (olen < 2 || i + olen > len)
            return;
        const uint8_t *v = opts + i + 2;
        if (kind == 2 && olen == 4) {
            o->has_mss = true;
            o->mss = be16(v);
        } else if (kind == 3 && olen == 3) {
            o->has_wscale = true;
            o->wscale = v[0] > 14 ? 14 : v[0]; /* RFC 7323: larger values are treated as 14 */
        } else if (kind == 4 && olen == 2) {
            o->sack_permitted = true;
        } else if (kind == 8 && olen == 10) {
            o->has_timestamp = true;
            o->ts_val = be32(v);
            o->ts_ecr = be32(v + 4);
        }
        i += olen;
    }
}

/* Moves c past the link-layer header; returns the IP version the frame announces (4 or 6), or 0. */
static int link_layer(int linktype, struct cursor *c)
{
    const uint8_t *h;
    uint16_t type;
    switch (linktype) {
    case DLT_EN10MB:
        if ((h = cursor_take(c, 14)) == NULL)
            return 0;
        type = be16(h + 12);
        for (int tags = 0; (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) && tags < MAX_VLAN_TAGS; tags++)
            type = (h = cursor_take(c, 4)) ? be16(h + 2) : 0;
        break;
    case DLT_LINUX_SLL:
        type = (h = cursor_take(c, 16)) ? be16(h + 14) : 0;
        break;
    case DLT_LINUX_SLL2:
        type = (h = cursor_take(c, 20)) ? be16(h) : 0;
        break;
    case DLT_NULL:
    case DLT_LOOP: /* a 4-byte address family in the writer's byte order: the IP version nibble is unambiguous */
        if (cursor_take(c, 4) == NULL)
            return 0;
        /* fall through */
    case DLT_RAW:
    case DLT_RAW_OPENBSD:
    case PCAPFILE_LINKTYPE_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        h = cursor_peek(c, 1);
        return h ? h[0] >> 4 : 0;
    default:
        return 0;
    }
    return type == ETHERTYPE_IPV4 ? 4 : type == ETHERTYPE_IPV6 ? 6 : 0;
}

/* The IPv4 header: addresses, protocol, fragment. Leaves c on the transport header, ended with the datagram. */
static enum decode_result ipv4(struct cursor *c, struct decoded_packet *p, size_t *claimed)
{
    const uint8_t *h = cursor_peek(c, 20);
    if (h == NULL || h[0] >> 4 != 4)
        return DECODE_NOT_IP;
    size_t ihl = (size_t)(h[0] & 0x0f) * 4, total = be16(h + 2), len = cursor_left(c);
    p->ip_len_unset = total == 0;
    if (total == 0)
        total = len; /* TSO/GSO and BIG TCP captures carry 0 */
    if (ihl < 20 || ihl > len || total < ihl)
        return DECODE_NOT_IP;
    ip_addr_from_v4(&p->src, h + 12);
    ip_addr_from_v4(&p->dst, h + 16);
    p->proto = h[9];
    p->ip_len = (uint32_t)total;
    uint16_t frag = be16(h + 6);
    p->fragment = (frag & 0x3fff) != 0; /* more fragments, or an offset */
    cursor_limit(c, total);             /* Ethernet padding is not datagram */
    cursor_take(c, ihl);
    *claimed = total - ihl;
    return (frag & 0x1fff) ? DECODE_PARTIAL : DECODE_OK;
}

static bool ipv6_extension(uint8_t next)
{
    return next == 0 || next == 43 || next == 44 || next == 51 || next == 60 || next == 135 || next == 139 ||
           next == 140;
}

/* The IPv6 header and its extension headers. Leaves c on the transport header, ended with the datagram. */
static enum decode_result ipv6(struct cursor *c, struct decoded_packet *p, size_t *claimed)
{
    const uint8_t *h = cursor_take(c, 40);
    if (h == NULL || h[0] >> 4 != 6)
        return DECODE_NOT_IP;
    size_t plen = be16(h + 4);
    p->ip_len_unset = plen == 0;
    if (plen == 0)
        plen = cursor_left(c); /* a jumbogram, or a TSO/GSO and BIG TCP capture */
    ip_addr_from_v6(&p->src, h + 8);
    ip_addr_from_v6(&p->dst, h + 24);
    p->ip_len = (uint32_t)(40 + plen);
    cursor_limit(c, plen);
    size_t start = c->at;
    uint8_t next = h[6];
    for (int n = 0; ipv6_extension(next); n++) {
        const uint8_t *e = n < DECODE_MAX_IPV6_EXTENSIONS ? cursor_peek(c, 8) : NULL;
        size_t elen = 8;
        if (e == NULL) {
            p->proto = next;
            return DECODE_PARTIAL;
        }
        if (next == 44) { /* fragment header: only the first fragment (offset 0) holds the transport header */
            uint16_t offset_more = be16(e + 2) & 0xfff9;
            p->fragment |= offset_more != 0;
            if (offset_more & 0xfff8) {
                p->proto = e[0];
                return DECODE_PARTIAL;
            }
        } else {
            elen = next == 51 ? ((size_t)e[1] + 2) * 4 : ((size_t)e[1] + 1) * 8; /* AH counts 4-byte words */
        }
        next = e[0];
        if (cursor_take(c, elen) == NULL) {
            p->proto = next;
            return DECODE_PARTIAL;
        }
    }
    p->proto = next;
    *claimed = plen - (c->at - start);
    return DECODE_OK;
}

static void set_payload(struct decoded_packet *p, const uint8_t *at, size_t captured, size_t announced)
{
    p->payload = at;
    p->payload_len = (uint32_t)captured;
    p->payload_wire_len = (uint32_t)announced;
}

/* The transport header at h: len bytes captured of the `claimed` the IP header announces (len <= claimed). */
static enum decode_result transport(const uint8_t *h, size_t len, size_t claimed, struct decoded_packet *p)
{
    bool tcp = p->proto == IPPROTO_TCP, udp = p->proto == IPPROTO_UDP;
    if ((tcp || udp) && len >= 4) {
        p->sport = be16(h);
        p->dport = be16(h + 2);
    }
    if (tcp) {
        size_t hlen = len >= 20 ? (size_t)(h[12] >> 4) * 4 : 0;
        if (hlen < 20 || hlen > len)
            return DECODE_PARTIAL;
        p->seq = be32(h + 4);
        p->ack = be32(h + 8);
        p->tcp_flags = h[13];
        p->window = be16(h + 14);
        if (hlen > 20) /* without options, *p was zeroed already */
            tcp_options_parse(h + 20, hlen - 20, &p->tcp_opts);
        set_payload(p, h + hlen, len - hlen, claimed - hlen);
    } else if (udp) {
        if (len < 8)
            return DECODE_PARTIAL;
        size_t ulen = be16(h + 4);
        if (ulen < 8)
            ulen = claimed; /* jumbograms and broken lengths: trust the IP length */
        set_payload(p, h + 8, ulen - 8 < len - 8 ? ulen - 8 : len - 8, ulen - 8);
    } else if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
        if (len >= 2) {
            p->icmp_type = h[0];
            p->icmp_code = h[1];
        }
        if (len < 4)
            return DECODE_PARTIAL;
        set_payload(p, h + 4, len - 4, claimed - 4);
    }
    return DECODE_OK;
}

enum decode_result decode_packet(int linktype, const uint8_t *frame, size_t caplen, struct decoded_packet *p)
{
    memset(p, 0, sizeof *p);
    struct cursor c = cursor_of(frame, caplen);
    size_t claimed = 0;
    enum decode_result r;
    switch (link_layer(linktype, &c)) {
    case 4:
        r = ipv4(&c, p, &claimed);
        break;
    case 6:
        r = ipv6(&c, p, &claimed);
        break;
    default:
        return DECODE_NOT_IP;
    }
    if (r == DECODE_NOT_IP)
        return r;
    p->l4off = (uint32_t)c.at;
    p->l4len = (uint32_t)cursor_left(&c);
    if (r == DECODE_PARTIAL)
        return r;
    return transport(c.b + c.at, cursor_left(&c), claimed, p);
}
