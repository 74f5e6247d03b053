#include "cloudwatch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_ca.h"
#include "s3.h"
#include "sigv4.h"

#define BATCH 20
#define URL_MAX 512
#define BODY_MAX 16384
#define ANSWER_MAX 4096

struct answer {
    char text[ANSWER_MAX];
    size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t bytes = size * n, room = sizeof a->text - 1 - a->len;
    size_t take = bytes < room ? bytes : room;
    memcpy(a->text + a->len, data, take);
    a->len += take;
    a->text[a->len] = '\0';
    return bytes;
}

/* Appends "&name=value" (value form-encoded) to body. */
static int add_param(char *body, size_t *used, const char *name, const char *value)
{
    char enc[512];
    long n = sigv4_uri_encode(value, strlen(value), 0, enc, sizeof enc);
    if (n < 0)
        return -1;
    int w = snprintf(body + *used, BODY_MAX - *used, "%s%s=%s", *used ? "&" : "", name, enc);
    if (w < 0 || (size_t)w >= BODY_MAX - *used)
        return -1;
    *used += (size_t)w;
    return 0;
}

static const char *pick_region(const struct cloudwatch_target *t)
{
    if (t->region && t->region[0])
        return t->region;
    const char *r = getenv("AWS_REGION");
    if (!r || !r[0])
        r = getenv("AWS_DEFAULT_REGION");
    return r && r[0] ? r : "us-east-1";
}

static void pick_endpoint(const struct cloudwatch_target *t, const char *region, char *out, size_t outlen)
{
    const char *e = t->endpoint && t->endpoint[0] ? t->endpoint : getenv("AWS_ENDPOINT_URL_CLOUDWATCH");
    if (!e || !e[0])
        e = getenv("AWS_ENDPOINT_URL");
    if (e && e[0])
        snprintf(out, outlen, "%s", e);
    else
        snprintf(out, outlen, "https://monitoring.%s.amazonaws.com", region);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
}

static int build_body(const struct cloudwatch_target *t, const struct metric_datum *m, size_t n, char *body)
{
    size_t used = 0;
    char name[96], value[64];
    if (add_param(body, &used, "Action", "PutMetricData") || add_param(body, &used, "Version", "2010-08-01") ||
        add_param(body, &used, "Namespace", t->namespace_))
        return -1;
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "MetricData.member.%zu.MetricName", i + 1);
        if (add_param(body, &used, name, m[i].name))
            return -1;
        snprintf(name, sizeof name, "MetricData.member.%zu.Value", i + 1);
        snprintf(value, sizeof value, "%.6g", m[i].value);
        if (add_param(body, &used, name, value))
            return -1;
        snprintf(name, sizeof name, "MetricData.member.%zu.Unit", i + 1);
        if (add_param(body, &used, name, m[i].unit ? m[i].unit : "None"))
            return -1;
        for (size_t d = 0; d < CLOUDWATCH_MAX_DIMENSIONS && m[i].dim_names[d]; d++) {
            snprintf(name, sizeof name, "MetricData.member.%zu.Dimensions.member.%zu.Name", i + 1, d + 1);
            if (add_param(body, &used, name, m[i].dim_names[d]))
                return -1;
            snprintf(name, sizeof name, "MetricData.member.%zu.Dimensions.member.%zu.Value", i + 1, d + 1);
            if (add_param(body, &used, name, m[i].dim_values[d]))
                return -1;
        }
    }
    return (int)used;
}

static int put_batch(const struct cloudwatch_target *t, const struct aws_credentials *cr, const char *region,
                     const char *endpoint, const struct metric_datum *m, size_t n, char *err, size_t errlen)
{
    static char body[BODY_MAX];
    int body_len = build_body(t, m, n, body);
    if (body_len < 0) {
        snprintf(err, errlen, "metrics request too large");
        return -1;
    }
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    char amz_date[SIGV4_DATE_LEN + 1], payload_hash[SIGV4_HEX_SHA256 + 1];
    sigv4_format_date((int64_t)time(NULL), amz_date);
    sigv4_sha256_hex(body, (size_t)body_len, payload_hash);
    const char *content_type = "application/x-www-form-urlencoded; charset=utf-8";
    struct sigv4_header headers[4] = {
        {"content-type", content_type}, {"host", host}, {"x-amz-date", amz_date}, {NULL, NULL}};
    size_t nheaders = 3;
    if (cr->session_token[0])
        headers[nheaders++] = (struct sigv4_header){"x-amz-security-token", cr->session_token};
    struct sigv4_request req = {"POST", "/", "", headers, nheaders, payload_hash};
    struct sigv4_key key = {cr->access_key_id, cr->secret_access_key, region, "monitoring", amz_date};
    char *authz = sigv4_authorization(&req, &key);
    if (!authz) {
        snprintf(err, errlen, "cannot sign the metrics request");
        return -1;
    }
    CURL *curl = curl_easy_init();
    struct curl_slist *list = NULL;
    char line[AWS_CREDS_TOKEN_MAX + 64];
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    list = curl_slist_append(list, line);
    snprintf(line, sizeof line, "X-Amz-Date: %s", amz_date);
    list = curl_slist_append(list, line);
    snprintf(line, sizeof line, "Authorization: %s", authz);
    list = curl_slist_append(list, line);
    if (cr->session_token[0]) {
        snprintf(line, sizeof line, "X-Amz-Security-Token: %s", cr->session_token);
        list = curl_slist_append(list, line);
    }
    list = curl_slist_append(list, "Expect:");
    free(authz);
    char url[URL_MAX];
    snprintf(url, sizeof url, "%s/", endpoint);
    struct answer answer = {.len = 0};
    answer.text[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, url);
    http_set_ca(curl);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", endpoint, curl_easy_strerror(rc));
        return -1;
    }
    if (status != 200) {
        char code[64] = "?";
        s3_xml_tag(answer.text, answer.len, "Code", code, sizeof code);
        snprintf(err, errlen, "PutMetricData: HTTP %ld %s", status, code);
        return -1;
    }
    return 0;
}

int cloudwatch_put(const struct cloudwatch_target *t, struct aws_creds_provider *creds, const struct metric_datum *m,
                   size_t n, char *err, size_t errlen)
{
    struct aws_credentials cr;
    if (aws_creds_get(creds, &cr, err, errlen) != 0)
        return -1;
    const char *region = pick_region(t);
    char endpoint[URL_MAX];
    pick_endpoint(t, region, endpoint, sizeof endpoint);
    for (size_t i = 0; i < n; i += BATCH) {
        size_t k = n - i < BATCH ? n - i : BATCH;
        if (put_batch(t, &cr, region, endpoint, m + i, k, err, errlen) != 0)
            return -1;
    }
    return 0;
}
