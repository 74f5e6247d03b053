/* The analyzer's pcap reader and packet decoder on hand-built files: byte orders, nanosecond magic, pcapng,
 * truncation and corruption, link types. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "../../../analyzer/packet.h"
#include "../../../analyzer/pcap_file.h"

static const uint8_t IPV4_TCP[] = {
    0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 51, 100, 2, 203, 0, 113, 10, /* IPv4, DF */
    0x9c, 0x40, 0, 80, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0, /* TCP PSH|ACK */
    'G', 'E', 'T', ' ' };

static size_t put32(uint8_t *b, uint32_t v, int big)
{
    for (int i = 0; i < 4; i++)
        b[i] = big ? (uint8_t)(v >> (24 - 8 * i)) : (uint8_t)(v >> (8 * i));
    return 4;
}

static size_t put16(uint8_t *b, uint16_t v, int big)
{
    b[0] = big ? (uint8_t)(v >> 8) : (uint8_t)v;
    b[1] = big ? (uint8_t)v : (uint8_t)(v >> 8);
    return 2;
}

/* A classic pcap with `n` copies of the raw-IP packet above. */
static size_t classic(uint8_t *b, int big, uint32_t magic, uint32_t frac, int n)
{
    size_t at = 0;
    at += put32(b + at, magic, big);
    at += put16(b + at, 2, big);
    at += put16(b + at, 4, big);
    at += put32(b + at, 0, big);
    at += put32(b + at, 0, big);
    at += put32(b + at, 65535, big);
    at += put32(b + at, LINKTYPE_RAW, big);
    for (int i = 0; i < n; i++) {
        at += put32(b + at, 1764098401, big);
        at += put32(b + at, frac, big);
        at += put32(b + at, sizeof IPV4_TCP, big);
        at += put32(b + at, sizeof IPV4_TCP, big);
        memcpy(b + at, IPV4_TCP, sizeof IPV4_TCP);
        at += sizeof IPV4_TCP;
    }
    return at;
}

Test(analyzer_pcap, both_byte_orders_and_resolutions)
{
    uint8_t buf[512];
    struct { int big; uint32_t magic, frac, want_nsec; } cases[] = {
        { 0, 0xa1b2c3d4u, 250000, 250000000 }, { 1, 0xa1b2c3d4u, 250000, 250000000 },
        { 0, 0xa1b23c4du, 123456789, 123456789 }, { 1, 0xa1b23c4du, 123456789, 123456789 } };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t len = classic(buf, cases[c].big, cases[c].magic, cases[c].frac, 2);
        struct pcap_reader r;
        cr_assert_eq(pcap_reader_open(&r, buf, len), 0, "case %zu: %s", c, r.error);
        struct pcap_packet p;
        int n = 0;
        while (pcap_reader_next(&r, &p) == 1) {
            cr_assert_eq(p.ts_sec, 1764098401);
            cr_assert_eq(p.ts_nsec, cases[c].want_nsec);
            cr_assert_eq(p.caplen, sizeof IPV4_TCP);
            n++;
        }
        cr_assert_eq(n, 2);
        cr_assert(!r.truncated);
    }
}

Test(analyzer_pcap, truncated_and_corrupt)
{
    uint8_t buf[512];
    size_t len = classic(buf, 0, 0xa1b2c3d4u, 0, 3);
    struct pcap_reader r;
    struct pcap_packet p;
    int n = 0;
    pcap_reader_open(&r, buf, len - 5);
    while (pcap_reader_next(&r, &p) == 1)
        n++;
    cr_assert_eq(n, 2);
    cr_assert(r.truncated);
    cr_assert(strstr(r.error, "truncated"));

    put32(buf + 24 + 16 + sizeof IPV4_TCP + 8, 0x7fffffff, 0); /* caplen of the 2nd record */
    n = 0;
    pcap_reader_open(&r, buf, len);
    while (pcap_reader_next(&r, &p) == 1)
        n++;
    cr_assert_eq(n, 1);
    cr_assert(strstr(r.error, "corrupt"));

    cr_assert_eq(pcap_reader_open(&r, (const uint8_t *)"GIF89a", 6), -1);
    cr_assert_eq(pcap_reader_open(&r, buf, 10), -1);
}

Test(analyzer_pcap, pcapng_enhanced_packets)
{
    uint8_t b[512];
    size_t at = 0;
    /* section header block */
    at += put32(b + at, 0x0a0d0d0a, 0);
    at += put32(b + at, 28, 0);
    at += put32(b + at, 0x1a2b3c4d, 0);
    at += put16(b + at, 1, 0);
    at += put16(b + at, 0, 0);
    at += put32(b + at, 0xffffffff, 0);
    at += put32(b + at, 0xffffffff, 0);
    at += put32(b + at, 28, 0);
    /* interface description block with if_tsresol = 10^-9 */
    at += put32(b + at, 1, 0);
    at += put32(b + at, 28, 0);
    at += put16(b + at, LINKTYPE_RAW, 0);
    at += put16(b + at, 0, 0);
    at += put32(b + at, 65535, 0);
    at += put16(b + at, 9, 0);
    at += put16(b + at, 1, 0);
    b[at++] = 9;
    b[at++] = 0;
    b[at++] = 0;
    b[at++] = 0;
    at += put32(b + at, 28, 0);
    /* enhanced packet block */
    uint64_t ticks = 1764098401ull * 1000000000ull + 5;
    uint32_t blen = 32 + sizeof IPV4_TCP;
    at += put32(b + at, 6, 0);
    at += put32(b + at, blen, 0);
    at += put32(b + at, 0, 0);
    at += put32(b + at, (uint32_t)(ticks >> 32), 0);
    at += put32(b + at, (uint32_t)ticks, 0);
    at += put32(b + at, sizeof IPV4_TCP, 0);
    at += put32(b + at, sizeof IPV4_TCP, 0);
    memcpy(b + at, IPV4_TCP, sizeof IPV4_TCP);
    at += sizeof IPV4_TCP;
    at += put32(b + at, blen, 0);

    struct pcap_reader r;
    cr_assert_eq(pcap_reader_open(&r, b, at), 0, "%s", r.error);
    struct pcap_packet p;
    cr_assert_eq(pcap_reader_next(&r, &p), 1, "%s", r.error);
    cr_assert_eq(p.ts_sec, 1764098401);
    cr_assert_eq(p.ts_nsec, 5);
    cr_assert_eq(p.linktype, LINKTYPE_RAW);
    cr_assert_eq(pcap_reader_next(&r, &p), 0);
    cr_assert(!r.truncated);
}

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
