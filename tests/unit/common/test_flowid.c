/* common/flowid: protocol names, and the spool name the capturer writes and the shipper reads back. A name is
 * untrusted (the spool is writable by a local user): only exactly what spool_name_format writes parses. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "flowid.h"

static struct spool_name flow(uint8_t proto, const char *remote, uint16_t rport, const char *local, uint16_t lport)
{
    struct spool_name n = {.first_us = 1764074096123456ull,
                           .id = {.proto = proto, .remote_port = rport, .local_port = lport}};
    struct prefix r, l;
    const char *why;
    cr_assert_eq(prefix_parse(remote, &r, &why), 0, "%s", remote);
    cr_assert_eq(prefix_parse(local, &l, &why), 0, "%s", local);
    n.id.remote = r.addr;
    n.id.local = l.addr;
    return n;
}

static void assert_round_trip(const struct spool_name *n, const char *expect)
{
    char name[SPOOL_NAME_MAX];
    cr_assert_eq(spool_name_format(n, name, sizeof name), 0);
    cr_assert_str_eq(name, expect);
    struct spool_name back;
    cr_assert(spool_name_parse(name, &back), "%s", name);
    cr_assert_eq(back.batch, n->batch, "%s", name);
    cr_assert_eq(back.first_us, n->first_us, "%s", name);
    cr_assert_eq(back.duplicate, n->duplicate, "%s", name);
    if (n->batch) {
        cr_assert_eq(back.batch_pid, n->batch_pid);
        cr_assert_eq(back.batch_number, n->batch_number);
        return;
    }
    cr_assert_eq(back.id.proto, n->id.proto, "%s", name);
    cr_assert_eq(back.id.remote_port, n->id.remote_port, "%s", name);
    cr_assert_eq(back.id.local_port, n->id.local_port, "%s", name);
    cr_assert(ip_addr_equal(&back.id.remote, &n->id.remote), "%s", name);
    cr_assert(ip_addr_equal(&back.id.local, &n->id.local), "%s", name);
    cr_assert_eq(back.id.remote.family, n->id.remote.family, "%s", name);
}

Test(flowid, protocol_names_in_both_published_spellings)
{
    cr_assert_str_eq(flowid_proto_name(IPPROTO_TCP, PROTO_SPELLING_NAME), "tcp");
    cr_assert_str_eq(flowid_proto_name(IPPROTO_UDP, PROTO_SPELLING_JSON), "udp");
    cr_assert_str_eq(flowid_proto_name(IPPROTO_ICMP, PROTO_SPELLING_NAME), "icmp");
    cr_assert_str_eq(flowid_proto_name(IPPROTO_ICMPV6, PROTO_SPELLING_NAME), "icmp6");
    cr_assert_str_eq(flowid_proto_name(IPPROTO_ICMPV6, PROTO_SPELLING_JSON), "icmpv6");
    cr_assert_null(flowid_proto_name(47, PROTO_SPELLING_NAME));
}

Test(flowid, format_then_parse_gives_the_same_flow)
{
    struct spool_name n = flow(IPPROTO_TCP, "198.51.100.2", 40000, "203.0.113.10", 22);
    assert_round_trip(&n, "1764074096123456_tcp_198.51.100.2_40000_203.0.113.10_22.pcap");
    n = flow(IPPROTO_UDP, "2001:db8:a::2", 53, "2001:db8:5::10", 65535);
    assert_round_trip(&n, "1764074096123456_udp_2001-db8-a--2_53_2001-db8-5--10_65535.pcap");
    n = flow(IPPROTO_ICMPV6, "::ffff:198.51.100.2", 128, "::", 0);
    assert_round_trip(&n, "1764074096123456_icmp6_--ffff-198.51.100.2_128_--_0.pcap");
    n = flow(47, "198.51.100.2", 0, "203.0.113.10", 0);
    assert_round_trip(&n, "1764074096123456_p47_198.51.100.2_0_203.0.113.10_0.pcap");
    n = flow(IPPROTO_ICMP, "198.51.100.2", 8, "203.0.113.10", 0);
    n.duplicate = 3;
    assert_round_trip(&n, "1764074096123456_icmp_198.51.100.2_8_203.0.113.10_0-3.pcap");
    n.first_us = UINT64_MAX;
    n.duplicate = UINT32_MAX;
    assert_round_trip(&n, "18446744073709551615_icmp_198.51.100.2_8_203.0.113.10_0-4294967295.pcap");
}

Test(flowid, batches)
{
    struct spool_name n = {.first_us = 1764074096000000ull, .batch = true, .batch_pid = 4242, .batch_number = 7};
    assert_round_trip(&n, "1764074096000000_batch_4242-7.pcap");
    n.batch_pid = n.batch_number = UINT64_MAX;
    assert_round_trip(&n, "1764074096000000_batch_18446744073709551615-18446744073709551615.pcap");
}

/* the longest the capturer writes: 20-digit time, two 39-character IPv6 addresses, "-9" (its last retry) */
Test(flowid, the_longest_flow_name_fits)
{
    struct spool_name n = flow(IPPROTO_ICMPV6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd", 65535,
                               "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535);
    n.first_us = UINT64_MAX;
    n.duplicate = 9;
    char name[SPOOL_NAME_MAX];
    cr_assert_eq(spool_name_format(&n, name, sizeof name), 0);
    cr_assert_eq(spool_name_format(&n, name, 16), -1, "too small");
}

Test(flowid, hostile_and_foreign_names_do_not_parse)
{
    char too_long[SPOOL_NAME_MAX + 8];
    memset(too_long, '1', sizeof too_long);
    snprintf(too_long + sizeof too_long - 60, 60, "_tcp_198.51.100.2_1_203.0.113.10_2.pcap");
    const char *bad[] = {
        too_long,
        "",
        ".pcap",
        "renamed-by-hand.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2.pcap.tmp",
        "1_tcp_198.51.100.2_1_203.0.113.10_2",
        "1_tcp_../../etc_1_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2/x.pcap",
        "1_tcp_198.51.100.2_1_../203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2.pcap/..",
        "x_tcp_198.51.100.2_1_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_1x_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_+1_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_-1_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_65536_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_99999999999999999999999.pcap",
        "18446744073709551616_tcp_198.51.100.2_1_203.0.113.10_2.pcap",
        "01_tcp_198.51.100.2_1_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_01_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2-0.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2-01.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2-4294967296.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2-.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2-1-1.pcap",
        "1_tcp_198.51.100.256_1_203.0.113.10_2.pcap",
        "1_tcp_198.051.100.2_1_203.0.113.10_2.pcap",
        "1_tcp_2001-DB8--1_1_203.0.113.10_2.pcap",
        "1_tcp_2001-0db8--1_1_203.0.113.10_2.pcap",
        "1_tcp_2001:db8::1_1_203.0.113.10_2.pcap",
        "1_tcp_2001-db8---1_1_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2_3.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10.pcap",
        "1__tcp_198.51.100.2_1_203.0.113.10_2.pcap",
        "1_tcp_198.51.100.2_1_203.0.113.10_2_.pcap",
        "1_ftp_198.51.100.2_1_203.0.113.10_2.pcap",
        "1_p6_198.51.100.2_1_203.0.113.10_2.pcap",
        "1_p256_198.51.100.2_1_203.0.113.10_2.pcap",
        "1_TCP_198.51.100.2_1_203.0.113.10_2.pcap",
        "1_batch_4242-7.pcap.tmp",
        "1_batch_4242.pcap",
        "1_batch_-7.pcap",
        "1_batch_4242-07.pcap",
        "1_batch_4242-7-1.pcap",
        "1_batch_18446744073709551616-1.pcap",
        "1_Batch_4242-7.pcap",
        "1_batch_4242-7_x.pcap",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct spool_name n = {.first_us = 99};
        cr_expect_not(spool_name_parse(bad[i], &n), "%s", bad[i]);
        cr_expect_eq(n.first_us, 99, "untouched on refusal: %s", bad[i]);
    }
}
