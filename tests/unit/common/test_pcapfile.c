/* The pcap reader (common/pcapfile.c) on files written by Wireshark's tools (tests/data/pcapfile/make_pcapfile.sh:
 * text2pcap, editcap -F nsecpcap / -F pcapng, mergecap), whose packets and timestamps are known from the text they
 * were made of; on big-endian files built here byte by byte; and on hostile input: every truncation of every file,
 * lengths no writer produces, packets of undeclared interfaces. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapfile.h"

/* What make_pcapfile.sh put in: 2025-11-25 19:20:01.250000 UTC and so on, raw IPv4 of 44, 45, 46 bytes. */
static const struct { uint64_t sec; uint32_t nsec, len; } RAW_PACKETS[] = {
    { 1764098401, 250000000, 44 }, { 1764098402, 500001000, 45 }, { 1764098403, 999999000, 46 } };
#define ETH_PACKET_SEC 1764098405u
#define ETH_PACKET_LEN 58u

static uint8_t *load(const char *name, size_t *len)
{
    const char *root = getenv("LURKER_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/pcapfile/%s", root && *root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    uint8_t *data = malloc(4096);
    *len = fread(data, 1, 4096, f);
    fclose(f);
    cr_assert(*len > 0 && *len < 4096, "%s", path);
    return data;
}

/* Reads every packet; returns how many, checking each against RAW_PACKETS (and the Ethernet one after them). */
static int read_all(struct pcapfile_reader *r, bool with_eth)
{
    struct pcapfile_packet p;
    int n = 0;
    while (pcapfile_reader_next(r, &p) == 1) {
        if (n < 3) {
            cr_assert_eq(p.linktype, PCAPFILE_LINKTYPE_RAW, "packet %d", n);
            cr_assert_eq(p.ts_sec, RAW_PACKETS[n].sec, "packet %d", n);
            cr_assert_eq(p.ts_nsec, RAW_PACKETS[n].nsec, "packet %d: %u", n, p.ts_nsec);
            cr_assert_eq(p.caplen, RAW_PACKETS[n].len);
            cr_assert_eq(p.origlen, RAW_PACKETS[n].len);
            cr_assert_eq(p.data[0], 0x45);
            cr_assert_eq(p.data[5], n + 1, "the IP id counts the packets");
        } else {
            cr_assert(with_eth);
            cr_assert_eq(p.linktype, PCAPFILE_LINKTYPE_ETHERNET);
            cr_assert_eq(p.ts_sec, ETH_PACKET_SEC);
            cr_assert_eq(p.ts_nsec, 0);
            cr_assert_eq(p.caplen, ETH_PACKET_LEN);
            cr_assert_eq(p.data[12], 0x08);
        }
        n++;
    }
    return n;
}

Test(pcapfile_reader, files_written_by_wireshark_tools)
{
    const char *names[] = { "raw_usec.pcap", "raw_nsec.pcap", "raw.pcapng", "raw_nsec.pcapng", "two_interfaces.pcapng" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t len;
        uint8_t *data = load(names[i], &len);
        struct pcapfile_reader r;
        cr_assert_eq(pcapfile_reader_open(&r, data, len), 0, "%s: %s", names[i], r.error);
        bool two = strstr(names[i], "two") != NULL;
        cr_assert_eq(read_all(&r, two), two ? 4 : 3, "%s", names[i]);
        cr_assert(!r.truncated, "%s: %s", names[i], r.error);
        free(data);
    }
}

/* Every prefix of every file, in a buffer of exactly that size (ASan sees any read past it): the packets before
 * the cut are delivered, the file is marked truncated unless the cut falls between records, and nothing else. */
Test(pcapfile_reader, every_truncation)
{
    const char *names[] = { "raw_usec.pcap", "raw_nsec.pcapng", "two_interfaces.pcapng" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t len;
        uint8_t *data = load(names[i], &len);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, data, cut);
            struct pcapfile_reader r;
            if (pcapfile_reader_open(&r, copy, cut) == 0) {
                int n = read_all(&r, true);
                cr_assert(n < 4);
                cr_assert(r.truncated || r.pos == cut, "%s cut at %zu", names[i], cut);
                cr_assert(!r.truncated || r.error[0]);
            } else {
                cr_assert(r.error[0]);
            }
            free(copy);
        }
        free(data);
    }
}

static size_t put32(uint8_t *b, uint32_t v, bool big)
{
    for (int i = 0; i < 4; i++)
        b[i] = big ? (uint8_t)(v >> (24 - 8 * i)) : (uint8_t)(v >> (8 * i));
    return 4;
}

static size_t put16(uint8_t *b, uint16_t v, bool big)
{
    b[0] = big ? (uint8_t)(v >> 8) : (uint8_t)v;
    b[1] = big ? (uint8_t)v : (uint8_t)(v >> 8);
    return 2;
}

static const uint8_t PAYLOAD[8] = { 0x45, 0, 0, 8, 0, 1, 0, 0 };

static size_t classic(uint8_t *b, bool big, uint32_t magic, uint32_t frac, uint32_t caplen)
{
    size_t at = put32(b, magic, big);
    at += put16(b + at, 2, big);
    at += put16(b + at, 4, big);
    at += put32(b + at, 0, big);
    at += put32(b + at, 0, big);
    at += put32(b + at, 65535, big);
    at += put32(b + at, PCAPFILE_LINKTYPE_RAW, big);
    at += put32(b + at, 1764098401, big);
    at += put32(b + at, frac, big);
    at += put32(b + at, caplen, big);
    at += put32(b + at, sizeof PAYLOAD, big);
    memcpy(b + at, PAYLOAD, sizeof PAYLOAD);
    return at + sizeof PAYLOAD;
}

Test(pcapfile_reader, classic_big_endian_and_corrupt_records)
{
    uint8_t b[128];
    struct pcapfile_reader r;
    struct pcapfile_packet p;
    const struct { uint32_t magic, frac, want_nsec; } cases[] = { { 0xa1b2c3d4u, 250000, 250000000 },
                                                                { 0xa1b23c4du, 123456789, 123456789 } };
    for (size_t i = 0; i < 2; i++) {
        size_t len = classic(b, true, cases[i].magic, cases[i].frac, sizeof PAYLOAD);
        cr_assert_eq(pcapfile_reader_open(&r, b, len), 0, "%s", r.error);
        cr_assert_eq(pcapfile_reader_next(&r, &p), 1, "%s", r.error);
        cr_assert_eq(p.ts_sec, 1764098401);
        cr_assert_eq(p.ts_nsec, cases[i].want_nsec);
        cr_assert_eq(p.linktype, PCAPFILE_LINKTYPE_RAW);
        cr_assert_eq(memcmp(p.data, PAYLOAD, sizeof PAYLOAD), 0);
        cr_assert_eq(pcapfile_reader_next(&r, &p), 0);
        cr_assert(!r.truncated);
    }
    /* a caplen no writer produces, a fraction of a second out of range */
    size_t len = classic(b, false, 0xa1b2c3d4u, 0, PCAPFILE_MAX_CAPLEN + 1);
    cr_assert_eq(pcapfile_reader_open(&r, b, len), 0);
    cr_assert_eq(pcapfile_reader_next(&r, &p), 0);
    cr_assert(r.truncated && strstr(r.error, "corrupt"), "%s", r.error);
    len = classic(b, false, 0xa1b2c3d4u, 1000000, sizeof PAYLOAD);
    cr_assert_eq(pcapfile_reader_open(&r, b, len), 0);
    cr_assert_eq(pcapfile_reader_next(&r, &p), 0);
    cr_assert(r.truncated && strstr(r.error, "corrupt"), "%s", r.error);
    /* not a pcap */
    cr_assert_eq(pcapfile_reader_open(&r, (const uint8_t *)"GIF89a", 6), -1);
    cr_assert(strstr(r.error, "not a pcap"), "%s", r.error);
    cr_assert_eq(pcapfile_reader_open(&r, b, 3), -1);
}

/* pcapng blocks, built in either byte order. */
static size_t block(uint8_t *b, uint32_t type, const uint8_t *body, size_t body_len, bool big)
{
    uint32_t total = (uint32_t)(12 + ((body_len + 3) & ~(size_t)3));
    size_t at = put32(b, type, big);
    at += put32(b + at, total, big);
    memset(b + at, 0, total - 12);
    memcpy(b + at, body, body_len);
    at += total - 12;
    return at + put32(b + at, total, big);
}

static size_t shb(uint8_t *b, bool big)
{
    uint8_t body[16];
    put32(body, 0x1a2b3c4d, big);
    put16(body + 4, 1, big);
    put16(body + 6, 0, big);
    memset(body + 8, 0xff, 8);
    return block(b, 0x0a0d0d0a, body, sizeof body, big);
}

/* An interface with if_tsresol = tsresol (0: no option). */
static size_t idb(uint8_t *b, uint16_t linktype, uint8_t tsresol, bool big)
{
    uint8_t body[20] = { 0 };
    put16(body, linktype, big);
    put32(body + 4, 65535, big);
    size_t n = 8;
    if (tsresol) {
        put16(body + 8, 9, big);
        put16(body + 10, 1, big);
        body[12] = tsresol;
        n = 20; /* the option padded to 4, then opt_endofopt */
    }
    return block(b, 1, body, n, big);
}

static size_t epb(uint8_t *b, uint32_t iface, uint64_t ticks, uint32_t caplen, bool big)
{
    uint8_t body[20 + sizeof PAYLOAD];
    put32(body, iface, big);
    put32(body + 4, (uint32_t)(ticks >> 32), big);
    put32(body + 8, (uint32_t)ticks, big);
    put32(body + 12, caplen, big);
    put32(body + 16, sizeof PAYLOAD, big);
    memcpy(body + 20, PAYLOAD, sizeof PAYLOAD);
    return block(b, 6, body, sizeof body, big);
}

Test(pcapfile_reader, pcapng_byte_orders_resolutions_and_skipped_blocks)
{
    uint8_t b[1024];
    for (int big = 0; big < 2; big++) {
        size_t at = shb(b, big);
        at += idb(b + at, PCAPFILE_LINKTYPE_ETHERNET, 0, big);         /* microseconds by default */
        at += idb(b + at, PCAPFILE_LINKTYPE_RAW, 0x80 | 10, big);      /* 2^-10 s */
        uint8_t unknown[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
        at += block(b + at, 0x00000bad, unknown, sizeof unknown, big); /* an unknown block: skipped */
        at += block(b + at, 2, unknown, sizeof unknown, big);          /* the obsolete packet block: skipped */
        at += epb(b + at, 0, 1764098401ull * 1000000 + 7, sizeof PAYLOAD, big);
        at += epb(b + at, 1, 1764098401ull * 1024 + 512, sizeof PAYLOAD, big);
        uint8_t spb[4 + sizeof PAYLOAD];
        put32(spb, sizeof PAYLOAD, big);
        memcpy(spb + 4, PAYLOAD, sizeof PAYLOAD);
        at += block(b + at, 3, spb, sizeof spb, big); /* a simple packet block: interface 0, no time */
        at += shb(b + at, !big);                      /* a second section in the other byte order */
        at += idb(b + at, PCAPFILE_LINKTYPE_RAW, 9, !big);
        at += epb(b + at, 0, 1764098401ull * 1000000000 + 5, sizeof PAYLOAD, !big);

        struct pcapfile_reader r;
        struct pcapfile_packet p;
        cr_assert_eq(pcapfile_reader_open(&r, b, at), 0, "%s", r.error);
        cr_assert_eq(pcapfile_reader_next(&r, &p), 1, "%s", r.error);
        cr_assert_eq(p.linktype, PCAPFILE_LINKTYPE_ETHERNET);
        cr_assert_eq(p.ts_sec, 1764098401);
        cr_assert_eq(p.ts_nsec, 7000);
        cr_assert_eq(memcmp(p.data, PAYLOAD, sizeof PAYLOAD), 0);
        cr_assert_eq(pcapfile_reader_next(&r, &p), 1, "%s", r.error);
        cr_assert_eq(p.linktype, PCAPFILE_LINKTYPE_RAW);
        cr_assert_eq(p.ts_sec, 1764098401);
        cr_assert_eq(p.ts_nsec, 500000000);
        cr_assert_eq(pcapfile_reader_next(&r, &p), 1, "%s", r.error);
        cr_assert_eq(p.linktype, PCAPFILE_LINKTYPE_ETHERNET);
        cr_assert_eq(p.caplen, sizeof PAYLOAD);
        cr_assert_eq(pcapfile_reader_next(&r, &p), 1, "%s", r.error);
        cr_assert_eq(p.linktype, PCAPFILE_LINKTYPE_RAW);
        cr_assert_eq(p.ts_nsec, 5);
        cr_assert_eq(pcapfile_reader_next(&r, &p), 0);
        cr_assert(!r.truncated, "%s", r.error);
    }
}

static void expect_stop(const uint8_t *b, size_t len, const char *why)
{
    struct pcapfile_reader r;
    struct pcapfile_packet p;
    cr_assert_eq(pcapfile_reader_open(&r, b, len), 0, "%s", r.error);
    cr_assert_eq(pcapfile_reader_next(&r, &p), 0, "expected %s", why);
    cr_assert(r.truncated, "expected %s", why);
    cr_assert(strstr(r.error, why), "expected %s, got %s", why, r.error);
}

Test(pcapfile_reader, pcapng_hostile_blocks)
{
    uint8_t b[2048];
    size_t at = shb(b, false);
    expect_stop(b, at + epb(b + at, 0, 0, sizeof PAYLOAD, false), "undeclared interface"); /* before any IDB */

    size_t with_idb = at + idb(b + at, PCAPFILE_LINKTYPE_RAW, 0, false);

    size_t len = with_idb + epb(b + with_idb, 0, 0, 4096, false); /* caplen beyond its block */
    expect_stop(b, len, "corrupt pcapng packet length");

    len = with_idb + epb(b + with_idb, 0, 0, sizeof PAYLOAD, false);
    put32(b + with_idb + 4, 45, false); /* block length not a multiple of 4 */
    expect_stop(b, len, "corrupt pcapng block length");
    put32(b + with_idb + 4, 8, false); /* shorter than a block header */
    expect_stop(b, len, "corrupt pcapng block length");
    put32(b + with_idb + 4, 0x7ffffffc, false); /* past the end */
    expect_stop(b, len, "corrupt pcapng block length");

    size_t second = shb(b + at, false); /* a second section with a bad byte-order magic */
    put32(b + at + 8, 0x12345678, false);
    expect_stop(b, at + second, "corrupt pcapng section header");

    /* more interfaces than the table holds: the extra ones are not usable, never out of bounds */
    at = shb(b, false);
    for (int i = 0; i < PCAPFILE_MAX_INTERFACES + 2; i++)
        at += idb(b + at, PCAPFILE_LINKTYPE_RAW, 0, false);
    at += epb(b + at, PCAPFILE_MAX_INTERFACES + 1, 0, sizeof PAYLOAD, false);
    expect_stop(b, at, "undeclared interface");

    /* not a section header's byte-order magic at the start */
    at = shb(b, false);
    put32(b + 8, 0, false);
    struct pcapfile_reader r;
    cr_assert_eq(pcapfile_reader_open(&r, b, at), -1);
    cr_assert(r.error[0]);
}
