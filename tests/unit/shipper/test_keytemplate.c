/* Shipper pure parts: key template, flow fields from names / pcaps / queue records, backoff, the job table. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "../../../shipper/backoff.h"
#include "../../../shipper/flowmeta.h"
#include "../../../shipper/jobs.h"
#include "../../../shipper/keytemplate.h"

#define DEFAULT_TEMPLATE "pcap/{yyyy}/{mm}/{dd}/{hh}/{ts}_{src}_{dst}_{sport}_{dport}.pcap"

Test(shipper_key, default_template_reproduces_original_layout)
{
    struct flow_meta m = {.first_us = 1764074096123456ull, .proto = "tcp", .src = "198.51.100.2",
                          .dst = "203.0.113.10", .sport = 40000, .dport = 22};
    char key[KEY_MAX], err[256];
    cr_assert_eq(key_expand(DEFAULT_TEMPLATE, "", "s1", &m, key, sizeof key, err, sizeof err), 0, "%s", err);
    /* 1764074096 = 2025-11-25 12:34:56 UTC */
    cr_expect_str_eq(key, "pcap/2025/11/25/12/1764074096_198.51.100.2_203.0.113.10_40000_22.pcap");
    cr_assert_eq(key_expand("{sensor}/{proto}/{ts}.pcap", "fleet/", "sensor-7", &m, key, sizeof key, err,
                            sizeof err), 0);
    cr_expect_str_eq(key, "fleet/sensor-7/tcp/1764074096.pcap");
}

Test(shipper_key, rejects_bad_templates_and_keys)
{
    struct flow_meta m = {.first_us = 1, .proto = "udp", .src = "2001-db8--1", .dst = "2001-db8--10"};
    char key[KEY_MAX], err[256];
    cr_expect_eq(key_expand("{nope}.pcap", "", "s", &m, key, sizeof key, err, sizeof err), -1);
    cr_expect(strstr(err, "unknown field") != NULL);
    cr_expect_eq(key_expand("a:{ts}", "", "s", &m, key, sizeof key, err, sizeof err), -1, "':' not allowed");
    cr_expect_eq(key_expand("../{ts}", "", "s", &m, key, sizeof key, err, sizeof err), -1);
    cr_expect_eq(key_expand("/{ts}", "", "s", &m, key, sizeof key, err, sizeof err), -1);
    cr_expect_eq(key_expand("a//{ts}", "", "s", &m, key, sizeof key, err, sizeof err), -1);
    cr_expect_eq(key_expand("{ts", "", "s", &m, key, sizeof key, err, sizeof err), -1);
    cr_expect_eq(key_expand("{src}/{dst}", "", "s", &m, key, 8, err, sizeof err), -1, "too long");
    cr_expect_eq(key_expand("{src}/{dst}", "", "s", &m, key, sizeof key, err, sizeof err), 0);
    cr_expect_str_eq(key, "2001-db8--1/2001-db8--10");
}

Test(shipper_key, capturer_file_names_parse)
{
    struct flow_meta m;
    cr_assert_eq(flow_meta_from_name("1764074096123456_tcp_198.51.100.2_40000_203.0.113.10_22.pcap", &m), 0);
    cr_expect_eq(m.first_us, 1764074096123456ull);
    cr_expect_str_eq(m.proto, "tcp");
    cr_expect_str_eq(m.src, "198.51.100.2");
    cr_expect_str_eq(m.dst, "203.0.113.10");
    cr_expect_eq(m.sport, 40000);
    cr_expect_eq(m.dport, 22);
    cr_assert_eq(flow_meta_from_name("1_icmp6_2001-db8-a--2_128_2001-db8-5--10_0-3.pcap", &m), 0, "-N suffix");
    cr_expect_str_eq(m.src, "2001-db8-a--2");
    cr_expect_eq(m.dport, 0);
    cr_expect_eq(m.duplicate, 3);
    char key[KEY_MAX], err[256];
    cr_assert_eq(key_expand(DEFAULT_TEMPLATE, "", "s", &m, key, sizeof key, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(key, "pcap/1970/01/01/00/0_2001-db8-a--2_2001-db8-5--10_128_0-3.pcap", "kept apart");
    cr_expect_eq(flow_meta_from_name("1_p47_1.2.3.4_0_5.6.7.8_0.pcap", &m), 0);
    const char *bad[] = {"weird.pcap", "1_tcp_1.2.3.4_70000_5.6.7.8_1.pcap", "1_tcp_1.2.3.4_1_5.6.7.8_1.pcap.tmp",
                         "x_tcp_1.2.3.4_1_5.6.7.8_1.pcap", "1_tcp_1.2.3.4_1_5:6::8_1.pcap", "1_tcp_1.2.3.4_1_5.6.7.8_1_9.pcap",
                         "1_ftp_1.2.3.4_1_5.6.7.8_1.pcap", "99999999999999999999999_tcp_1.2.3.4_1_5.6.7.8_1.pcap", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(flow_meta_from_name(bad[i], &m), -1, "%s", bad[i]);
}

static size_t make_pcap(uint8_t *buf, uint32_t linktype, int v6)
{
    uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, linktype};
    memcpy(buf, gh, 24);
    uint8_t pkt[128];
    size_t n = 0;
    if (linktype == 1) {
        memset(pkt, 2, 12);
        pkt[12] = v6 ? 0x86 : 0x08;
        pkt[13] = v6 ? 0xdd : 0x00;
        n = 14;
    }
    if (v6) {
        memset(pkt + n, 0, 40);
        pkt[n] = 0x60;
        pkt[n + 6] = IPPROTO_UDP;
        inet_pton(AF_INET6, "2001:db8:a::2", pkt + n + 8);
        inet_pton(AF_INET6, "2001:db8:5::10", pkt + n + 24);
        n += 40;
    } else {
        memset(pkt + n, 0, 20);
        pkt[n] = 0x45;
        pkt[n + 9] = IPPROTO_TCP;
        inet_pton(AF_INET, "198.51.100.2", pkt + n + 12);
        inet_pton(AF_INET, "203.0.113.10", pkt + n + 16);
        n += 20;
    }
    uint8_t l4[8] = {0x9c, 0x40, 0x00, 0x16, 0, 0, 0, 0}; /* 40000 -> 22 */
    memcpy(pkt + n, l4, 8);
    n += 8;
    uint32_t rh[4] = {1764074096, 500000, (uint32_t)n, (uint32_t)n};
    memcpy(buf + 24, rh, 16);
    memcpy(buf + 40, pkt, n);
    return 40 + n;
}

Test(shipper_key, first_packet_of_a_pcap)
{
    uint8_t buf[256];
    struct flow_meta m;
    size_t len = make_pcap(buf, 1, 0);
    cr_assert_eq(flow_meta_from_pcap(buf, len, &m), 0);
    cr_expect_eq(m.first_us, 1764074096500000ull);
    cr_expect_str_eq(m.src, "198.51.100.2");
    cr_expect_str_eq(m.dst, "203.0.113.10");
    cr_expect_str_eq(m.proto, "tcp");
    cr_expect_eq(m.sport, 40000);
    cr_expect_eq(m.dport, 22);
    len = make_pcap(buf, 101, 1);
    cr_assert_eq(flow_meta_from_pcap(buf, len, &m), 0);
    cr_expect_str_eq(m.src, "2001-db8-a--2");
    cr_expect_str_eq(m.proto, "udp");
    /* every truncation of a valid file is refused or parsed, never read past the end */
    len = make_pcap(buf, 1, 0);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        flow_meta_from_pcap(copy, cut, &m);
        free(copy);
    }
    memset(buf, 0, 4);
    cr_expect_eq(flow_meta_from_pcap(buf, len, &m), -1, "bad magic");
}

Test(shipper_key, from_queue_record)
{
    struct queue_record rec = {.proto = IPPROTO_TCP, .family = AF_INET, .src_port = 1234, .dst_port = 80,
                               .first_us = 5000000};
    rec.src_addr[10] = rec.src_addr[11] = rec.dst_addr[10] = rec.dst_addr[11] = 0xff;
    inet_pton(AF_INET, "198.51.100.9", rec.src_addr + 12);
    inet_pton(AF_INET, "203.0.113.10", rec.dst_addr + 12);
    struct flow_meta m;
    flow_meta_from_record(&rec, &m);
    cr_expect_str_eq(m.src, "198.51.100.9");
    cr_expect_str_eq(m.dst, "203.0.113.10");
    rec.family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::1", rec.src_addr);
    flow_meta_from_record(&rec, &m);
    cr_expect_str_eq(m.src, "2001-db8--1");
}

Test(shipper_key, backoff_grows_with_jitter_and_cap)
{
    for (uint64_t r = 0; r < 1000; r += 37) {
        uint64_t d1 = backoff_delay_ms(1, r), d3 = backoff_delay_ms(3, r), d30 = backoff_delay_ms(30, r);
        cr_expect(d1 >= BACKOFF_BASE_MS / 2 && d1 <= BACKOFF_BASE_MS);
        cr_expect(d3 >= 4 * BACKOFF_BASE_MS / 2 && d3 <= 4 * BACKOFF_BASE_MS);
        cr_expect(d30 >= BACKOFF_CAP_MS / 2 && d30 <= BACKOFF_CAP_MS);
    }
    cr_expect_neq(backoff_delay_ms(5, 1), backoff_delay_ms(5, 2), "jitter varies");
}

Test(shipper_key, job_table_places)
{
    struct job_table t;
    cr_assert_eq(jobs_init(&t), 0);
    struct job *a = jobs_add(&t, "a.pcap", false), *b = jobs_add(&t, "b.pcap", true);
    cr_assert(a && b);
    cr_expect_null(jobs_add(&t, "a.pcap", false), "no duplicates");
    cr_expect_eq(jobs_find(&t, "b.pcap"), b);
    cr_expect_eq(jobs_take_ready(&t), a);
    jobs_delay(&t, a, 100);
    cr_expect_eq(jobs_take_ready(&t), b);
    cr_expect_null(jobs_take_ready(&t));
    cr_expect_eq(jobs_promote_due(&t, 50), 100);
    cr_expect_eq(jobs_promote_due(&t, 100), 0);
    cr_expect_eq(jobs_take_ready(&t), a);
    jobs_remove(&t, a);
    jobs_remove(&t, b);
    cr_expect_eq(t.count, 0);
    cr_expect_null(jobs_find(&t, "a.pcap"));
    jobs_free(&t);
}
