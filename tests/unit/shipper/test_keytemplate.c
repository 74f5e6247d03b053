/* Shipper pure parts: key template (of capturer names and of names that are not), backoff, the job table. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "../../../shipper/backoff.h"
#include "../../../shipper/jobs.h"
#include "../../../shipper/keytemplate.h"

#define DEFAULT_TEMPLATE "pcap/{yyyy}/{mm}/{dd}/{hh}/{ts}.{us}_{proto}_{src}_{dst}_{sport}_{dport}.pcap"

static struct spool_name parsed(const char *name)
{
    struct spool_name m;
    cr_assert(spool_name_parse(name, &m), "%s", name);
    return m;
}

Test(shipper_key, default_template_keeps_the_original_prefix)
{
    struct spool_name m = parsed("1764074096123456_tcp_198.51.100.2_40000_203.0.113.10_22.pcap");
    char key[KEY_MAX], err[256];
    cr_assert_eq(key_expand(DEFAULT_TEMPLATE, "", "s1", &m, key, sizeof key, err, sizeof err), 0, "%s", err);
    /* 1764074096 = 2025-11-25 12:34:56 UTC */
    cr_expect_str_eq(key, "pcap/2025/11/25/12/1764074096.123456_tcp_198.51.100.2_203.0.113.10_40000_22.pcap");
    cr_assert_eq(key_expand("{sensor}/{proto}/{ts}.pcap", "fleet/", "sensor-7", &m, key, sizeof key, err,
                            sizeof err), 0);
    cr_expect_str_eq(key, "fleet/sensor-7/tcp/1764074096.pcap");
    m = parsed("1_p47_1.2.3.4_0_5.6.7.8_0.pcap");
    cr_assert_eq(key_expand("{proto}/{seq}x", "", "s", &m, key, sizeof key, err, sizeof err), 0);
    cr_expect_str_eq(key, "p47/x", "a flow has no {seq}");
}

Test(shipper_key, rejects_bad_templates_and_keys)
{
    struct spool_name m = parsed("1_udp_2001-db8--1_0_2001-db8--10_0.pcap");
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

Test(shipper_key, duplicates_and_batches_keep_their_own_keys)
{
    struct spool_name m = parsed("1_icmp6_2001-db8-a--2_128_2001-db8-5--10_0-3.pcap");
    char key[KEY_MAX], err[256];
    cr_assert_eq(key_expand(DEFAULT_TEMPLATE, "", "s", &m, key, sizeof key, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(key, "pcap/1970/01/01/00/0.000001_icmp6_2001-db8-a--2_2001-db8-5--10_128_0-3.pcap", "kept apart");
    m = parsed("1764074096000000_batch_4242-7.pcap");
    cr_assert_eq(key_expand("batch/{ts}_{seq}{src}{proto}{sport}.pcap", "", "s", &m, key, sizeof key, err,
                            sizeof err), 0, "%s", err);
    cr_expect_str_eq(key, "batch/1764074096_4242-70.pcap", "a batch's flow fields are empty");
}

/* Spool names are unique; the default key must be too, or the store keeps only the last of two flows. */
Test(shipper_key, flows_that_differ_only_in_protocol_or_microsecond_get_different_keys)
{
    static const char *const names[] = {
        "1764074096123456_tcp_198.51.100.2_40000_203.0.113.10_53.pcap",
        "1764074096123456_udp_198.51.100.2_40000_203.0.113.10_53.pcap",
        "1764074096123457_tcp_198.51.100.2_40000_203.0.113.10_53.pcap",
        "1764074096000000_tcp_198.51.100.2_40000_203.0.113.10_53.pcap",
        "1764074096123456_tcp_198.51.100.2_40000_203.0.113.10_53-1.pcap",
    };
    char keys[5][KEY_MAX], err[256];
    for (size_t i = 0; i < 5; i++) {
        struct spool_name m = parsed(names[i]);
        cr_assert_eq(key_expand(DEFAULT_TEMPLATE, "", "s", &m, keys[i], KEY_MAX, err, sizeof err), 0, "%s", err);
        for (size_t j = 0; j < i; j++)
            cr_expect_str_neq(keys[i], keys[j], "%s and %s share a key", names[i], names[j]);
    }
    cr_expect_str_eq(keys[1], "pcap/2025/11/25/12/1764074096.123456_udp_198.51.100.2_203.0.113.10_40000_53.pcap");
    cr_expect_str_eq(keys[3], "pcap/2025/11/25/12/1764074096.000000_tcp_198.51.100.2_203.0.113.10_40000_53.pcap");
    cr_expect_str_eq(keys[4], "pcap/2025/11/25/12/1764074096.123456_tcp_198.51.100.2_203.0.113.10_40000_53-1.pcap");
}

Test(shipper_key, a_name_that_is_not_the_capturer_s_gets_a_key_of_its_own)
{
    char key[KEY_MAX];
    cr_assert_eq(key_for_unparsed("fleet/", "s1", "renamed by_hand.pcap", key, sizeof key), 0);
    cr_expect_str_eq(key, "fleet/unparsed/s1/renamed_20by_5fhand.pcap");
    cr_assert(key_is_safe(key));
    cr_assert_eq(key_for_unparsed("", "s1", "a\n:%..pcap", key, sizeof key), 0);
    cr_expect_str_eq(key, "unparsed/s1/a_0a_3a_25..pcap");
    cr_expect_eq(key_for_unparsed("", "s1", "x.pcap", key, 16), -1, "too long");
    cr_expect_eq(key_for_unparsed("", "bad:sensor", "x.pcap", key, sizeof key), -1, "unsafe");
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
