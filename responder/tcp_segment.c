#include "tcp_segment.h"

#include <netinet/in.h>
#include <pcap/dlt.h>
#include <string.h>
#include <sys/socket.h>

#define ETHERTYPE_V4 0x0800
#define ETHERTYPE_V6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void tcp_options_parse(const uint8_t *opts, size_t len, struct tcp_offer *offer)
{
    memset(offer, 0, sizeof *offer);
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
        switch (kind) {
        case 2:
            if (olen == 4) {
                offer->has_mss = true;
                offer->mss = be16(v);
            }
            break;
        case 3:
            if (olen == 3) {
                offer->has_wscale = true;
                offer->wscale = v[0] > 14 ? 14 : v[0]; /* RFC 7323: larger values are treated as 14 */
            }
            break;
        case 4:
            if (olen == 2)
                offer->sack_permitted = true;
            break;
        case 8:
            if (olen == 10) {
                offer->has_timestamp = true;
                offer->ts_val = be32(v);
                offer->ts_ecr = be32(v + 4);
            }
            break;
        default:
            break;
        }
        i += olen;
    }
}

/* Finds the network layer: returns its offset and sets *ethertype, or -1. */
static long network_offset(const uint8_t *f, size_t caplen, int linktype, uint16_t *ethertype)
{
    size_t off;
    switch (linktype) {
    case DLT_EN10MB:
        if (caplen < 14)
            return -1;
        *ethertype = be16(f + 12);
        off = 14;
        for (int tags = 0; tags < 2 && (*ethertype == ETHERTYPE_VLAN || *ethertype == ETHERTYPE_QINQ); tags++) {
            if (caplen < off + 4)
                return -1;
            *ethertype = be16(f + off + 2);
            off += 4;
        }
        return (long)off;
    case DLT_LINUX_SLL:
        if (caplen < 16)
            return -1;
        *ethertype = be16(f + 14);
        return 16;
    case DLT_LINUX_SLL2:
        if (caplen < 20)
            return -1;
        *ethertype = be16(f);
        return 20;
    case DLT_RAW:
        if (caplen < 1)
            return -1;
        *ethertype = (f[0] >> 4) == 6 ? ETHERTYPE_V6 : ETHERTYPE_V4;
        return 0;
    default:
        return -1;
    }
}

enum segment_result tcp_segment_parse(const uint8_t *frame, size_t caplen, int linktype, struct tcp_segment *seg)
{
    uint16_t ethertype = 0;
    long l3 = network_offset(frame, caplen, linktype, &ethertype);
    if (l3 < 0)
        return SEGMENT_MALFORMED;
    const uint8_t *ip = frame + l3;
    size_t avail = caplen - (size_t)l3;
    size_t l4, ip_payload_len;

    memset(seg, 0, sizeof *seg);
    if (ethertype == ETHERTYPE_V4) {
        if (avail < 20 || (ip[0] >> 4) != 4)
            return SEGMENT_MALFORMED;
        size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
        size_t total = be16(ip + 2);
        if (ihl < 20 || total < ihl || avail < ihl)
            return SEGMENT_MALFORMED;
        if (ip[9] != IPPROTO_TCP)
            return SEGMENT_NOT_TCP;
        if ((be16(ip + 6) & 0x1fff) != 0) /* a non-first fragment has no TCP header */
            return SEGMENT_NOT_TCP;
        ip_addr_from_v4(&seg->src, ip + 12);
        ip_addr_from_v4(&seg->dst, ip + 16);
        l4 = ihl;
        ip_payload_len = total - ihl;
    } else if (ethertype == ETHERTYPE_V6) {
        if (avail < 40 || (ip[0] >> 4) != 6)
            return SEGMENT_MALFORMED;
        if (ip[6] != IPPROTO_TCP) /* extension headers are not followed: the BPF filter does not either */
            return SEGMENT_NOT_TCP;
        ip_addr_from_v6(&seg->src, ip + 8);
        ip_addr_from_v6(&seg->dst, ip + 24);
        l4 = 40;
        ip_payload_len = be16(ip + 4);
    } else {
        return SEGMENT_NOT_TCP;
    }

    if (avail < l4 + 20 || ip_payload_len < 20)
        return SEGMENT_MALFORMED;
    const uint8_t *tcp = ip + l4;
    size_t doff = (size_t)(tcp[12] >> 4) * 4;
    if (doff < 20 || doff > ip_payload_len || avail < l4 + doff)
        return SEGMENT_MALFORMED;
    seg->sport = be16(tcp);
    seg->dport = be16(tcp + 2);
    seg->seq = be32(tcp + 4);
    seg->ack = be32(tcp + 8);
    seg->flags = tcp[13];
    seg->window = be16(tcp + 14);
    tcp_options_parse(tcp + 20, doff - 20, &seg->offer);

    size_t payload_len = ip_payload_len - doff;
    size_t captured = avail - l4 - doff;
    seg->payload = tcp + doff;
    seg->payload_len = payload_len < captured ? payload_len : captured;
    seg->payload_wire_len = payload_len;
    return SEGMENT_OK;
}
