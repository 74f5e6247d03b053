#include "s3_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "s3.h"

void s3_input_init(struct s3_input *in, size_t max_bytes)
{
    memset(in, 0, sizeof *in);
    in->max_bytes = max_bytes;
    const char *ps = getenv("LURKER_S3_PATH_STYLE");
    in->path_style = (ps && strcmp(ps, "1") == 0) || getenv("AWS_ENDPOINT_URL_S3") || getenv("AWS_ENDPOINT_URL");
}

void s3_input_free(struct s3_input *in)
{
    if (in->client)
        s3_client_free(in->client);
    in->client = NULL;
}

int s3_url_split(const char *url, char *bucket, size_t bucket_size, const char **rest)
{
    if (strncmp(url, "s3://", 5) != 0)
        return -1;
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t n = slash ? (size_t)(slash - b) : strlen(b);
    if (n == 0 || n >= bucket_size)
        return -1;
    memcpy(bucket, b, n);
    bucket[n] = '\0';
    *rest = slash ? slash + 1 : b + n;
    return 0;
}

static int ensure_client(struct s3_input *in, char *err, size_t errlen)
{
    if (in->client)
        return 0;
    struct s3_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "%s", in->endpoint);
    snprintf(cfg.region, sizeof cfg.region, "%s", in->region);
    cfg.path_style = in->path_style || in->endpoint[0];
    in->client = s3_client_new(&cfg, err, errlen);
    return in->client ? 0 : -1;
}

struct s3_client *s3_input_client(struct s3_input *in, char *err, size_t errlen)
{
    return ensure_client(in, err, errlen) == 0 ? in->client : NULL;
}

int s3_input_fetch(struct s3_input *in, const char *bucket, const char *key, uint8_t **data, size_t *len, char *err,
                   size_t errlen)
{
    if (ensure_client(in, err, errlen) != 0)
        return -1;
    struct s3_result res;
    memset(&res, 0, sizeof res);
    if (s3_get_object(in->client, bucket, key, in->max_bytes, data, len, &res) != 0 || res.outcome != S3_OK) {
        snprintf(err, errlen, "GetObject failed: HTTP %ld %s %s", res.http_status, res.code, res.message);
        return -1;
    }
    return 0;
}

static int analyse_object(struct s3_input *in, const char *bucket, const char *key, struct run *run)
{
    char err[400];
    uint8_t *data = NULL;
    size_t len = 0;
    char name[2048];
    int k = snprintf(name, sizeof name, "s3://%s/%s", bucket, key);
    if (k < 0 || (size_t)k >= sizeof name) {
        fprintf(stderr, "lurker-analyzer: s3://%s/...: key too long\n", bucket);
        return 1;
    }
    if (s3_input_fetch(in, bucket, key, &data, &len, err, sizeof err) != 0) {
        fprintf(stderr, "lurker-analyzer: %s: %s\n", name, err);
        snprintf(run->last_error, sizeof run->last_error, "%.200s", err);
        run->failed++;
        return 1;
    }
    int rc = analysis_run_pcap(run, name, 5 + (int)strlen(bucket) + 1, data, len);
    free(data);
    return rc;
}

struct listing {
    const char *prefix;        /* the full prefix asked for (the server may have been given a shorter one) */
    char **keys;
    size_t n, cap;
    bool oom;
};

static int collect_key(const char *key, uint64_t size, void *arg)
{
    (void)size;
    struct listing *l = arg;
    size_t klen = strlen(key);
    if (klen == 0 || key[klen - 1] == '/' || strncmp(key, l->prefix, strlen(l->prefix)) != 0)
        return 0; /* "directory" placeholder objects, keys outside the prefix */
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **keys = realloc(l->keys, cap * sizeof *keys);
        if (!keys) {
            l->oom = true;
            return 1;
        }
        l->keys = keys;
        l->cap = cap;
    }
    l->keys[l->n] = strdup(key);
    if (!l->keys[l->n]) {
        l->oom = true;
        return 1;
    }
    l->n++;
    return 0;
}

int s3_input_run(struct s3_input *in, const char *url, struct run *run)
{
    char bucket[256], err[400];
    const char *rest;
    if (s3_url_split(url, bucket, sizeof bucket, &rest) != 0) {
        fprintf(stderr, "lurker-analyzer: %s: not an s3://bucket/key URL\n", url);
        return 1;
    }
    if (ensure_client(in, err, sizeof err) != 0) {
        fprintf(stderr, "lurker-analyzer: %s: %s\n", url, err);
        return 1;
    }
    size_t rlen = strlen(rest);
    if (rlen > 0 && rest[rlen - 1] != '/')
        return analyse_object(in, bucket, rest, run);

    /* common/s3.c signs a prefix containing '/' wrongly (SignatureDoesNotMatch): ask the server for the part before
     * the first '/' and filter the keys here */
    char server_prefix[1024];
    size_t cut = strcspn(rest, "/");
    snprintf(server_prefix, sizeof server_prefix, "%.*s", (int)(cut < sizeof server_prefix - 1 ? cut : 0), rest);
    struct listing l = { .prefix = rest };
    struct s3_result res;
    memset(&res, 0, sizeof res);
    int rc = s3_list_objects(in->client, bucket, server_prefix, collect_key, &l, &res);
    int failed = 0;
    if (l.oom) {
        fprintf(stderr, "lurker-analyzer: %s: out of memory while listing\n", url);
        failed = 1;
    } else if (rc != 0 || res.outcome != S3_OK) {
        fprintf(stderr, "lurker-analyzer: %s: ListObjectsV2 failed: HTTP %ld %s %s\n", url, res.http_status, res.code,
                res.message);
        failed = 1;
    }
    for (size_t i = 0; i < l.n; i++) { /* a failing object does not stop the others */
        failed += analyse_object(in, bucket, l.keys[i], run);
        free(l.keys[i]);
    }
    free(l.keys);
    return failed;
}
