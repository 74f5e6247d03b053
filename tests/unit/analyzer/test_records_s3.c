/* The S3 JSON Lines writer's pure parts: settings, grouping by (UTC day of init_ts, sensor), object keys. The
 * writes themselves are tests/integration/test_infra_records.py's (the analyzer as a Lambda against moto's S3). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../../analyzer/records_s3.h"

static void init_with(struct records_s3 *w, const char *bucket, const char *prefix)
{
    char err[256];
    setenv("LURKER_RECORDS_BUCKET", bucket, 1);
    if (prefix)
        setenv("LURKER_RECORDS_PREFIX", prefix, 1);
    else
        unsetenv("LURKER_RECORDS_PREFIX");
    cr_assert_eq(records_s3_init(w, err, sizeof err), 1, "%s", err);
}

static const char *key_of(const struct records_s3 *w, size_t i, const char *pcap, char *key, size_t keylen)
{
    cr_assert_lt(i, w->n);
    cr_assert_eq(records_s3_key(w, &w->groups[i], pcap, key, keylen), 0);
    return key;
}

Test(records_s3, settings)
{
    struct records_s3 w;
    char err[256];
    unsetenv("LURKER_RECORDS_BUCKET");
    cr_expect_eq(records_s3_init(&w, err, sizeof err), 0, "no bucket: nothing to write");
    setenv("LURKER_RECORDS_BUCKET", "Not_A_Bucket", 1);
    cr_expect_eq(records_s3_init(&w, err, sizeof err), -1);
    cr_expect(strstr(err, "LURKER_RECORDS_BUCKET") != NULL, "%s", err);
    setenv("LURKER_RECORDS_BUCKET", "lk-records", 1);
    setenv("LURKER_RECORDS_PREFIX", "../up", 1);
    cr_expect_eq(records_s3_init(&w, err, sizeof err), -1);
    init_with(&w, "lk-records", "out");
    cr_expect_str_eq(w.prefix, "out/", "a prefix gets its slash");
    init_with(&w, "lk-records", NULL);
    cr_expect_str_eq(w.prefix, "records/");
    records_s3_free(&w);
}

Test(records_s3, groups_by_day_and_sensor)
{
    struct records_s3 w;
    char err[256], key[512];
    init_with(&w, "lk-records", NULL);
    /* 1764098401 = 2025-11-25 19:20:01 UTC; +86400 the next day; the last line has no newline */
    const char lines[] = "{\"init_ts\":1764098401,\"sensor\":\"edge-1\",\"n\":1}\n"
                         "{\"init_ts\":1764184801,\"sensor\":\"edge-1\",\"n\":2}\n"
                         "{\"init_ts\":1764098402,\"sensor\":\"edge-1\",\"n\":3}\n"
                         "{\"init_ts\":1764098403,\"sensor\":\"we/ird sensor\",\"n\":4}\n"
                         "{\"init_ts\":1764098404,\"sensor\":null,\"n\":5}";
    cr_assert_eq(records_s3_add(&w, lines, strlen(lines), err, sizeof err), 0, "%s", err);
    cr_assert_eq(w.n, 4);
    const char *pcap = "sensors/edge-1/pcap/2025/11/25/19/1764098401_198.51.100.2_203.0.113.10_40000_22.pcap";
    cr_expect_str_eq(key_of(&w, 0, pcap, key, sizeof key),
                     "records/2025-11-25/edge-1__1764098401_198.51.100.2_203.0.113.10_40000_22.jsonl");
    cr_expect_eq(w.groups[0].len, strlen("{\"init_ts\":1764098401,\"sensor\":\"edge-1\",\"n\":1}\n") * 2);
    cr_expect_str_eq(key_of(&w, 1, pcap, key, sizeof key),
                     "records/2025-11-26/edge-1__1764098401_198.51.100.2_203.0.113.10_40000_22.jsonl");
    cr_expect_str_eq(w.groups[2].sensor, "we_ird_sensor", "only [A-Za-z0-9._-] in a key");
    cr_expect_str_eq(w.groups[3].sensor, "unknown");
    cr_expect_eq(w.groups[3].data[w.groups[3].len - 1], '\n', "every line ends in a newline");
    records_s3_free(&w);
}

Test(records_s3, refuses_what_is_not_a_record)
{
    struct records_s3 w;
    char err[256];
    init_with(&w, "lk-records", NULL);
    const char bad[] = "{\"init_ts\":1764098401,\"sensor\":\"a\"}\nnot json\n";
    cr_expect_eq(records_s3_add(&w, bad, strlen(bad), err, sizeof err), -1);
    cr_expect_eq(w.n, 0, "nothing of a bad batch is kept");
    const char no_ts[] = "{\"sensor\":\"a\"}\n";
    cr_expect_eq(records_s3_add(&w, no_ts, strlen(no_ts), err, sizeof err), -1);
    cr_expect(strstr(err, "init_ts") != NULL, "%s", err);
    /* a time no date column holds lands in one bucket, the record is still written */
    const char far[] = "{\"init_ts\":9223372036854775807,\"sensor\":\"a\"}\n";
    cr_assert_eq(records_s3_add(&w, far, strlen(far), err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(w.groups[0].day, "0000-00-00");
    records_s3_free(&w);
}
