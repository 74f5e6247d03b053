/* Parsing hostile frames: every length checked against the captured bytes, every link type the responder reads.
 * (What the responder builds is checked by tshark in test_packet_build.c.) */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <string.h>
#include <sys/socket.h>

#include "../../../responder/packet_build.h"
#include "../../../responder/tcp_segment.h"

static size_t build(uint8_t *frame, size_t cap, int family, const uint8_t *payload, size_t plen)
{
    struct ip_addr a, b;
    if (family == AF_INET) {
        ip_addr_from_v4(&a, (const uint8_t[]){198, 51, 100, 2});
        ip_addr_from_v4(&b, (const uint8_t[]){203, 0, 113, 10});
    } else {
        ip_addr_from_v6(&a, (const uint8_t[]){0x20, 1, 0xd, 0xb8, 0, 0xa, [15] = 2});
        ip_addr_from_v6(&b, (const uint8_t[]){0x20, 1, 0xd, 0xb8, 0, 5, [15] = 0x10});
    }
    struct tcp_shape shape = {.ttl = 64, .df = true, .window = 1024,
                              .options = {2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2},
                              .options_len = 20};
    struct tcp_reply r = {.src = &a, .dst = &b, .sport = 40000, .dport = 22, .seq = 0xdeadbeef, .ack = 0,
                          .flags = TCP_FLAG_SYN, .shape = &shape, .payload = payload, .payload_len = plen};
    memset(frame, 0, 14);
    frame[12] = family == AF_INET ? 0x08 : 0x86;
    frame[13] = family == AF_INET ? 0x00 : 0xdd;
    return 14 + packet_build(&r, frame + 14, cap - 14);
}

Test(responder_tcp_segment, every_truncation_is_rejected_or_bounded)
{
    uint8_t frame[256];
    for (int fam = 0; fam < 2; fam++) {
        size_t len = build(frame, sizeof frame, fam ? AF_INET6 : AF_INET, (const uint8_t *)"abcdefgh", 8);
        for (size_t cut = 0; cut < len; cut++) {
            struct tcp_segment s;
            enum segment_result r = tcp_segment_parse(frame, cut, DLT_EN10MB, &s);
            if (r == SEGMENT_OK) {
                cr_assert_leq(s.payload + s.payload_len, frame + cut);
                cr_assert_eq(s.payload_wire_len, 8);
            }
        }
    }
}

Test(responder_tcp_segment, lying_lengths_and_options_stay_in_bounds)
{
    uint8_t frame[256];
    size_t len = build(frame, sizeof frame, AF_INET, NULL, 0);
    struct tcp_segment s;
    frame[14 + 2] = 0xff; /* total length beyond the frame */
    frame[14 + 3] = 0xff;
    cr_assert_eq(tcp_segment_parse(frame, len, DLT_EN10MB, &s), SEGMENT_OK);
    cr_assert_leq(s.payload + s.payload_len, frame + len);
    frame[14 + 2] = 0;
    frame[14 + 3] = 10; /* total length shorter than the header */
    cr_assert_eq(tcp_segment_parse(frame, len, DLT_EN10MB, &s), SEGMENT_MALFORMED);
    len = build(frame, sizeof frame, AF_INET, NULL, 0);
    frame[14 + 20 + 12] = 0xf0; /* data offset 60 beyond the captured bytes */
    cr_assert_eq(tcp_segment_parse(frame, len, DLT_EN10MB, &s), SEGMENT_MALFORMED);
    /* option length 0, and an option running past the end */
    struct tcp_offer o;
    tcp_options_parse((const uint8_t[]){2, 0, 2, 4}, 4, &o);
    cr_assert_not(o.has_mss);
    tcp_options_parse((const uint8_t[]){1, 8, 10, 0}, 4, &o);
    cr_assert_not(o.has_timestamp);
    tcp_options_parse((const uint8_t[]){3, 3, 200, 0}, 4, &o);
    cr_assert_eq(o.wscale, 14);
    frame[12] = 0x08;
    frame[13] = 0x06; /* ARP */
    cr_assert_eq(tcp_segment_parse(frame, len, DLT_EN10MB, &s), SEGMENT_NOT_TCP);
}

Test(responder_tcp_segment, vlan_sll_and_raw_link_types)
{
    uint8_t frame[256], other[300];
    size_t len = build(frame, sizeof frame, AF_INET, NULL, 0);
    struct tcp_segment s;
    /* 802.1Q tag inserted */
    memcpy(other, frame, 12);
    other[12] = 0x81, other[13] = 0x00, other[14] = 0, other[15] = 5;
    memcpy(other + 16, frame + 12, len - 12);
    cr_assert_eq(tcp_segment_parse(other, len + 4, DLT_EN10MB, &s), SEGMENT_OK);
    cr_assert_eq(s.dport, 22);
    cr_assert_eq(tcp_segment_parse(frame + 14, len - 14, DLT_RAW, &s), SEGMENT_OK);
    memset(other, 0, 16);
    other[14] = 0x08, other[15] = 0;
    memcpy(other + 16, frame + 14, len - 14);
    cr_assert_eq(tcp_segment_parse(other, len + 2, DLT_LINUX_SLL, &s), SEGMENT_OK);
    cr_assert_eq(tcp_segment_parse(other, len + 2, 12345, &s), SEGMENT_MALFORMED);
}
