#include "lambda.h"

#include <curl/curl.h>
#include <strings.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lambda_event.h"
#include "lambda_log.h"
#include "records_s3.h"

#define EVENT_MAX_BYTES (8u * 1024 * 1024) /* Lambda's own payload limit is 6 MB */
#define API_FAILURES_BEFORE_EXIT 5

struct body {
    char *data;
    size_t len;
    bool too_large;
};

struct next_invocation {
    struct body event;
    char request_id[128];
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    if (b->len + n > EVENT_MAX_BYTES) {
        b->too_large = true;
        return 0;
    }
    char *d = realloc(b->data, b->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, ptr, n);
    b->len += n;
    d[b->len] = '\0';
    b->data = d;
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
    struct next_invocation *next = arg;
    size_t n = size * nitems;
    static const char name[] = "lambda-runtime-aws-request-id:";
    size_t k = sizeof name - 1;
    if (n > k && strncasecmp(buf, name, k) == 0) {
        size_t at = k, end = n;
        while (at < end && (buf[at] == ' ' || buf[at] == '\t'))
            at++;
        while (end > at && (buf[end - 1] == '\r' || buf[end - 1] == '\n' || buf[end - 1] == ' '))
            end--;
        size_t len = end - at < sizeof next->request_id - 1 ? end - at : sizeof next->request_id - 1;
        memcpy(next->request_id, buf + at, len);
        next->request_id[len] = '\0';
    }
    return n;
}

static int get_next(CURL *curl, const char *api, struct next_invocation *next)
{
    char url[512];
    snprintf(url, sizeof url, "http://%s/2018-06-01/runtime/invocation/next", api);
    memset(next, 0, sizeof *next);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &next->event);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, next);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(curl); /* blocks until an invocation arrives: no timeout on purpose */
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200 || !next->request_id[0]) {
        fprintf(stderr, "lurker-analyzer: runtime API next: %s (HTTP %ld)\n",
                rc != CURLE_OK ? curl_easy_strerror(rc) : "no request id", status);
        free(next->event.data);
        next->event.data = NULL;
        return -1;
    }
    return 0;
}

static int post(CURL *curl, const char *url, const char *body, const char *error_type)
{
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    char type_header[128];
    if (error_type) {
        snprintf(type_header, sizeof type_header, "Lambda-Runtime-Function-Error-Type: %s", error_type);
        headers = curl_slist_append(headers, type_header);
    }
    struct body sink = { 0 };
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    free(sink.data);
    if (rc != CURLE_OK || status != 202) {
        fprintf(stderr, "lurker-analyzer: runtime API post %s: %s (HTTP %ld)\n", url,
                rc != CURLE_OK ? curl_easy_strerror(rc) : "unexpected status", status);
        return -1;
    }
    return 0;
}

static int post_error(CURL *curl, const char *url, const char *type, const char *message)
{
    json_t *e = json_pack("{s:s, s:s}", "errorType", type, "errorMessage", message);
    char *body = e ? json_dumps(e, JSON_COMPACT) : NULL;
    int rc = post(curl, url, body ? body : "{}", type);
    free(body);
    json_decref(e);
    return rc;
}

/* With a records bucket, the run's output goes through this tee: every byte to stdout (the log group) as before,
 * and every complete line to the S3 writer's groups. Records are not held twice (a batch of 100,000 flows makes
 * tens of MB of them). */
struct records_tee {
    FILE *out;
    struct records_s3 *records;
    char *line;
    size_t len, cap;
    bool failed;
    char err[256];
};

static void tee_line(struct records_tee *t)
{
    if (!t->failed && records_s3_add(t->records, t->line, t->len, t->err, sizeof t->err) != 0)
        t->failed = true;
    t->len = 0;
}

static ssize_t tee_write(void *cookie, const char *buf, size_t size)
{
    struct records_tee *t = cookie;
    if (fwrite(buf, 1, size, t->out) != size)
        return -1;
    for (size_t i = 0; i < size; i++) {
        if (t->len == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 4096;
            char *line = realloc(t->line, cap);
            if (!line) {
                snprintf(t->err, sizeof t->err, "out of memory");
                t->failed = true;
                t->len = 0;
                continue;
            }
            t->line = line;
            t->cap = cap;
        }
        t->line[t->len++] = buf[i];
        if (buf[i] == '\n')
            tee_line(t);
    }
    return (ssize_t)size;
}

/* Analyses one pcap; with a records bucket its records also go to S3 (records_failed counts pcaps whose records
 * could not all be written there). */
static int analyse_object(struct run *run, const char *name, int key_start, const uint8_t *data, size_t len,
                          struct records_s3 *records, struct s3_input *s3, int *records_failed)
{
    if (!records)
        return analysis_run_pcap(run, name, key_start, data, len);
    struct records_tee tee = { .out = run->out, .records = records };
    cookie_io_functions_t io = { .write = tee_write };
    FILE *out = fopencookie(&tee, "w", io);
    if (!out) {
        lambda_log("ERROR", "lurker-analyzer: %s: records not written to S3: no memory", name);
        (*records_failed)++;
        return analysis_run_pcap(run, name, key_start, data, len);
    }
    run->out = out;
    int rc = analysis_run_pcap(run, name, key_start, data, len);
    run->out = tee.out;
    fclose(out); /* flushes the last bytes through tee_write */
    fflush(tee.out);
    if (tee.len) /* a last line without its newline */
        tee_line(&tee);
    free(tee.line);
    char err[512];
    struct s3_client *client = records->n ? s3_input_client(s3, err, sizeof err) : NULL;
    if (tee.failed)
        snprintf(err, sizeof err, "%s", tee.err);
    if (tee.failed || (records->n && (!client || records_s3_flush(records, client, name + key_start, err,
                                                                   sizeof err) != 0))) {
        lambda_log("ERROR", "lurker-analyzer: %s: records not written to S3: %s", name, err);
        records_s3_flush_discard(records);
        (*records_failed)++;
    }
    return rc;
}

/* Analyses every object of one event; fills `failures` with {s3path, error, retryable} for those that failed.
 * Returns how many could not be fetched (retryable); a pcap that is broken stays broken, so it is not. */
static size_t handle_objects(const struct lambda_objects *objs, struct run *run, struct s3_input *s3,
                             struct records_s3 *records, json_t *failures, uint64_t *flows, int *records_failed)
{
    size_t unfetched = 0;
    for (size_t i = 0; i < objs->n; i++) {
        const struct s3_object_ref *o = &objs->items[i];
        char name[1400], err[400];
        snprintf(name, sizeof name, "s3://%s/%s", o->bucket, o->key);
        uint8_t *data = NULL;
        size_t len = 0;
        uint64_t before = run->flows;
        int rc;
        bool fetched = s3_input_fetch(s3, o->bucket, o->key, &data, &len, err, sizeof err) == 0;
        if (!fetched) {
            fprintf(stderr, "lurker-analyzer: %s: %s\n", name, err);
            snprintf(run->last_error, sizeof run->last_error, "%.200s", err);
            unfetched++;
            rc = 1;
        } else {
            rc = analyse_object(run, name, 5 + (int)strlen(o->bucket) + 1, data, len, records, s3, records_failed);
            free(data);
        }
        *flows += run->flows - before;
        if (rc != 0)
            json_array_append_new(failures, json_pack("{s:s, s:s, s:b}", "s3path", name, "error", run->last_error,
                                                      "retryable", !fetched));
    }
    return unfetched;
}

static void handle_invocation(CURL *curl, const char *api, const struct next_invocation *next, struct run *run,
                              struct s3_input *s3, struct records_s3 *records)
{
    char url[512], err[256];
    snprintf(url, sizeof url, "http://%s/2018-06-01/runtime/invocation/%s/error", api, next->request_id);
    lambda_log_request(next->request_id);
    struct lambda_objects objs;
    if (lambda_event_objects(next->event.data ? next->event.data : "", next->event.len, &objs, err, sizeof err)) {
        lambda_log("ERROR", "lurker-analyzer: invocation %s: %s", next->request_id, err);
        post_error(curl, url, "InvalidEvent", err);
        lambda_log_request(NULL);
        return;
    }
    json_t *failures = json_array();
    uint64_t flows = 0;
    int records_failed = 0;
    size_t unfetched = handle_objects(&objs, run, s3, records, failures, &flows, &records_failed);
    if (objs.n > 0 && unfetched == objs.n) { /* nothing could be read: let Lambda retry the event */
        char *detail = json_dumps(failures, JSON_COMPACT);
        post_error(curl, url, "ObjectsFailed", detail ? detail : "every object failed");
        free(detail);
    } else if (records_failed) {
        /* The records reached the log group but not S3: a retry writes the same S3 objects again (their keys
         * depend only on the pcap), and the log group gets those records a second time. */
        post_error(curl, url, "RecordsNotWritten", "records of at least one pcap could not be written to S3");
    } else {
        snprintf(url, sizeof url, "http://%s/2018-06-01/runtime/invocation/%s/response", api, next->request_id);
        json_t *resp = json_pack("{s:I, s:I, s:I, s:O}", "objects", (json_int_t)objs.n, "skipped",
                                 (json_int_t)objs.skipped, "flows", (json_int_t)flows, "failed", failures);
        char *body = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
        post(curl, url, body ? body : "{}", NULL);
        free(body);
        json_decref(resp);
    }
    json_decref(failures);
    lambda_objects_free(&objs);
    lambda_log_request(NULL);
}

int lambda_main(const char *runtime_api, struct run *run, struct s3_input *s3)
{
    lambda_log_wrap_stderr();
    struct records_s3 records;
    char err[256];
    int with_records = records_s3_init(&records, err, sizeof err);
    if (with_records < 0) {
        lambda_log("ERROR", "lurker-analyzer: %s", err);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    CURL *curl = curl_easy_init();
    if (!curl)
        return 1;
    int failures = 0;
    while (failures < API_FAILURES_BEFORE_EXIT) {
        struct next_invocation next;
        if (get_next(curl, runtime_api, &next) != 0) {
            failures++;
            sleep(1);
            continue;
        }
        failures = 0;
        handle_invocation(curl, runtime_api, &next, run, s3, with_records ? &records : NULL);
        free(next.event.data);
        fflush(stdout);
    }
    records_s3_free(&records);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return 1;
}
