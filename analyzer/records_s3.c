#include "records_s3.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"

#define DEFAULT_PREFIX "records/"

static int valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' || b[i] == '.'))
            return 0;
    return 1;
}

int records_s3_init(struct records_s3 *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    const char *bucket = getenv("LURKER_RECORDS_BUCKET");
    const char *prefix = getenv("LURKER_RECORDS_PREFIX");
    if (!bucket || !bucket[0])
        return 0;
    if (!valid_bucket(bucket)) {
        snprintf(err, errlen, "LURKER_RECORDS_BUCKET '%.80s' is not a bucket name", bucket);
        return -1;
    }
    if (!prefix)
        prefix = DEFAULT_PREFIX;
    size_t plen = strlen(prefix);
    if (plen + 2 > sizeof w->prefix || strstr(prefix, "..") || prefix[0] == '/') {
        snprintf(err, errlen, "LURKER_RECORDS_PREFIX '%.80s' is too long or not a plain key prefix", prefix);
        return -1;
    }
    snprintf(w->bucket, sizeof w->bucket, "%s", bucket);
    snprintf(w->prefix, sizeof w->prefix, "%s%s", prefix, plen && prefix[plen - 1] != '/' ? "/" : "");
    return 1;
}

/* Names in keys: [A-Za-z0-9._-] only. */
static void safe_value(const char *in, char *out, size_t outlen)
{
    size_t i = 0;
    for (; in[i] && i + 1 < outlen; i++) {
        char c = in[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '_' || c == '-';
        out[i] = ok ? c : '_';
    }
    out[i] = '\0';
    if (i == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, outlen, "unknown");
}

static void utc_day(json_int_t ts, char *out, size_t outlen)
{
    time_t t = (time_t)ts;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        snprintf(out, outlen, "0000-00-00"); /* outside what a date column holds: one bucket for all of them */
        return;
    }
    snprintf(out, outlen, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u);
}

static struct records_group *group_for(struct records_s3 *w, const char *day, const char *sensor)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->groups[i].day, day) == 0 && strcmp(w->groups[i].sensor, sensor) == 0)
            return &w->groups[i];
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4;
        struct records_group *g = realloc(w->groups, cap * sizeof *g);
        if (!g)
            return NULL;
        w->groups = g;
        w->cap = cap;
    }
    struct records_group *g = &w->groups[w->n++];
    memset(g, 0, sizeof *g);
    snprintf(g->day, sizeof g->day, "%s", day);
    snprintf(g->sensor, sizeof g->sensor, "%s", sensor);
    return g;
}

static int append(struct records_group *g, const char *line, size_t len)
{
    if (g->len + len > g->cap) {
        size_t cap = g->cap ? g->cap : 4096;
        while (cap < g->len + len)
            cap *= 2;
        char *d = realloc(g->data, cap);
        if (!d)
            return -1;
        g->data = d;
        g->cap = cap;
    }
    memcpy(g->data + g->len, line, len);
    g->len += len;
    return 0;
}

static void drop_groups(struct records_s3 *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->groups[i].data);
    w->n = 0;
}

int records_s3_add(struct records_s3 *w, const char *buf, size_t len, char *err, size_t errlen)
{
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) + 1 : len;
        json_error_t jerr;
        json_t *rec = json_loadb(buf + at, end - at, 0, &jerr);
        json_t *ts = rec ? json_object_get(rec, "init_ts") : NULL;
        if (!json_is_integer(ts)) {
            snprintf(err, errlen, "not a flow record: %s", rec ? "no integer init_ts" : jerr.text);
            json_decref(rec);
            drop_groups(w);
            return -1;
        }
        char day[11], sensor[64];
        utc_day(json_integer_value(ts), day, sizeof day);
        json_t *s = json_object_get(rec, "sensor");
        safe_value(json_is_string(s) ? json_string_value(s) : "", sensor, sizeof sensor);
        json_decref(rec);
        struct records_group *g = group_for(w, day, sensor);
        if (!g || append(g, buf + at, end - at) != 0) {
            snprintf(err, errlen, "out of memory");
            drop_groups(w);
            return -1;
        }
        if (!nl && append(g, "\n", 1) != 0) {
            snprintf(err, errlen, "out of memory");
            drop_groups(w);
            return -1;
        }
        at = end;
    }
    return 0;
}

int records_s3_key(const struct records_s3 *w, const struct records_group *g, const char *pcap_name, char *key,
                   size_t keylen)
{
    const char *base = strrchr(pcap_name, '/');
    base = base ? base + 1 : pcap_name;
    char name[256];
    safe_value(base, name, sizeof name);
    char *dot = strrchr(name, '.');
    if (dot && dot != name)
        *dot = '\0';
    int n = snprintf(key, keylen, "%s%s/%s__%s.jsonl", w->prefix, g->day, g->sensor, name);
    return n < 0 || (size_t)n >= keylen ? -1 : 0;
}

int records_s3_flush(struct records_s3 *w, struct s3_client *client, const char *pcap_name, char *err,
                     size_t errlen)
{
    int failed = 0;
    for (size_t i = 0; i < w->n; i++) {
        struct records_group *g = &w->groups[i];
        char key[1024];
        if (records_s3_key(w, g, pcap_name, key, sizeof key) != 0) {
            snprintf(err, errlen, "records key for %.200s too long", pcap_name);
            failed++;
            continue;
        }
        struct s3_result res;
        memset(&res, 0, sizeof res);
        if (s3_put_object(client, w->bucket, key, g->data, g->len, &res) != 0 || res.outcome != S3_OK) {
            snprintf(err, errlen, "PutObject s3://%s/%.300s failed: HTTP %ld %s %s", w->bucket, key,
                     res.http_status, res.code, res.message);
            failed++;
        }
    }
    drop_groups(w);
    return failed;
}

void records_s3_flush_discard(struct records_s3 *w)
{
    drop_groups(w);
}

void records_s3_free(struct records_s3 *w)
{
    drop_groups(w);
    free(w->groups);
    w->groups = NULL;
    w->cap = 0;
}
