/* The analyzer's packet decoder on hand-built packets: link types, clipping, fragments, extension headers. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "../../../analyzer/packet.h"

static const uint8_t IPV4_TCP[] = {
    0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 51, 100, 2, 203, 0, 113, 10, /* IPv4, DF */
    0x9c, 0x40, 0, 80, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0, /* TCP PSH|ACK */
    'G', 'E', 'T', ' ' };

Test(analyzer_pcap, decode_link_types)
{
    uint8_t frame[128];
    struct packet p;
    cr_assert_eq(analyzer_packet_decode(LINKTYPE_RAW, IPV4_TCP, sizeof IPV4_TCP, &p), PACKET_OK);
    cr_assert_eq(p.sport, 40000);
    cr_assert_eq(p.dport, 80);
    cr_assert_eq(p.seq, 1000);
    cr_assert_eq(p.payload_len, 4);
    cr_assert_eq(p.tcp_flags, TCPF_PSH | TCPF_ACK);

    memset(frame, 0, 14);
    frame[12] = 0x81; /* 802.1Q tag, then IPv4 */
    frame[13] = 0x00;
    frame[16] = 0x08;
    frame[17] = 0x00;
    memcpy(frame + 18, IPV4_TCP, sizeof IPV4_TCP);
    cr_assert_eq(analyzer_packet_decode(LINKTYPE_ETHERNET, frame, 18 + sizeof IPV4_TCP, &p), PACKET_OK);
    cr_assert_eq(p.dport, 80);

    memset(frame, 0, 16);
    frame[14] = 0x08;
    memcpy(frame + 16, IPV4_TCP, sizeof IPV4_TCP);
    cr_assert_eq(analyzer_packet_decode(LINKTYPE_LINUX_SLL, frame, 16 + sizeof IPV4_TCP, &p), PACKET_OK);

    memset(frame, 0, 4);
    frame[0] = 2;
    memcpy(frame + 4, IPV4_TCP, sizeof IPV4_TCP);
    cr_assert_eq(analyzer_packet_decode(LINKTYPE_NULL, frame, 4 + sizeof IPV4_TCP, &p), PACKET_OK);

    /* snaplen cut inside the payload: decoded, marked clipped */
    cr_assert_eq(analyzer_packet_decode(LINKTYPE_RAW, IPV4_TCP, sizeof IPV4_TCP - 2, &p), PACKET_OK);
    cr_assert_eq(p.payload_len, 2);
    cr_assert(p.payload_clipped);
    /* cut inside the TCP header */
    cr_assert_eq(analyzer_packet_decode(LINKTYPE_RAW, IPV4_TCP, 30, &p), PACKET_MALFORMED);
    /* a non-first fragment */
    memcpy(frame, IPV4_TCP, sizeof IPV4_TCP);
    frame[6] = 0x00;
    frame[7] = 0x10;
    cr_assert_eq(analyzer_packet_decode(LINKTYPE_RAW, frame, sizeof IPV4_TCP, &p), PACKET_FRAGMENT);
}

Test(analyzer_pcap, ipv6_extension_headers_are_bounded)
{
    uint8_t b[40 + 9 * 8 + 20];
    memset(b, 0, sizeof b);
    b[0] = 0x60;
    b[6] = 0; /* hop-by-hop */
    size_t plen = 9 * 8 + 20;
    b[4] = (uint8_t)(plen >> 8);
    b[5] = (uint8_t)plen;
    for (int i = 0; i < 9; i++) /* nine destination-option headers: one more than allowed */
        b[40 + 8 * i] = i == 8 ? 6 : 60;
    struct packet p;
    cr_assert_eq(analyzer_packet_decode(LINKTYPE_RAW, b, sizeof b, &p), PACKET_MALFORMED);
    b[40 + 8 * 2] = 6; /* three headers, then TCP */
    b[40 + 8 * 3 + 12] = 0x50;
    cr_assert_eq(analyzer_packet_decode(LINKTYPE_RAW, b, 40 + 8 * 3 + 20, &p), PACKET_OK);
    cr_assert_eq(p.proto, 6);
    cr_assert_eq(p.family, 6);
}
