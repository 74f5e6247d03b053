/* S3 client on libcurl: requests built, signed (sigv4.c) and classified here. See s3.h. */
#include "s3.h"

#include "http_ca.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_creds.h"
#include "log.h"
#include "sigv4.h"

#define S3_ERROR_BODY_MAX (64 * 1024)
#define S3_LIST_BODY_MAX (4 * 1024 * 1024)
#define S3_URL_MAX 4096
#define S3_KEY_MAX 1024
#define S3_LIST_MAX_PAGES 100000ul /* 100 million keys at 1,000 a page */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define CLOCK_SKEW_TOLERANCE 60 /* seconds of server/local clock difference before we sign with the server's time */

struct s3_client {
    char region[64];
    char scheme[8];        /* "http" or "https" */
    char host[256];        /* host[:port] of the endpoint */
    char base_path[256];   /* path part of the endpoint, no trailing '/' */
    bool path_style;
    bool custom_endpoint;
    char sse[32];
    char bucket[CONFIG_STR_MAX];
    struct aws_creds_provider *creds;
    int64_t clock_offset;  /* server time minus local time, learned from a RequestTimeTooSkewed answer */
    unsigned list_page_size; /* 0: server default */
};

struct s3_op {
    struct s3_client *client;
    CURL *h;
    struct curl_slist *headers;
    const uint8_t *upload;
    size_t upload_len, upload_off;
    uint8_t *body;
    size_t body_len, body_max;
    bool body_overflow;
    int64_t server_date;   /* from the Date header, 0 if none */
    char url[S3_URL_MAX];
    char errbuf[CURL_ERROR_SIZE];
};

static void resolve_region(const struct s3_config *cfg, char *out, size_t outlen)
{
    const char *r = cfg->region[0] ? cfg->region : getenv("AWS_REGION");
    if (!r || !*r)
        r = getenv("AWS_DEFAULT_REGION");
    snprintf(out, outlen, "%s", r && *r ? r : "us-east-1");
}

/* "http://127.0.0.1:5000/base" -> scheme, host[:port], base path. */
static int parse_endpoint(struct s3_client *c, const char *endpoint, char *err, size_t errlen)
{
    const char *sep = strstr(endpoint, "://");
    if (!sep || (size_t)(sep - endpoint) >= sizeof c->scheme) {
        snprintf(err, errlen, "s3 endpoint must start with http:// or https://");
        return -1;
    }
    snprintf(c->scheme, sizeof c->scheme, "%.*s", (int)(sep - endpoint), endpoint);
    if (strcmp(c->scheme, "http") != 0 && strcmp(c->scheme, "https") != 0) {
        snprintf(err, errlen, "s3 endpoint must start with http:// or https://");
        return -1;
    }
    const char *host = sep + 3;
    size_t hl = strcspn(host, "/?#");
    if (hl == 0 || hl >= sizeof c->host) {
        snprintf(err, errlen, "s3 endpoint has no usable host");
        return -1;
    }
    snprintf(c->host, sizeof c->host, "%.*s", (int)hl, host);
    const char *path = host + hl;
    size_t pl = strcspn(path, "?#");
    while (pl > 0 && path[pl - 1] == '/')
        pl--;
    if (pl >= sizeof c->base_path) {
        snprintf(err, errlen, "s3 endpoint path too long");
        return -1;
    }
    snprintf(c->base_path, sizeof c->base_path, "%.*s", (int)pl, path);
    return 0;
}

struct s3_client *s3_client_new(const struct s3_config *cfg, char *err, size_t errlen)
{
    static bool curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
    struct s3_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    resolve_region(cfg, c->region, sizeof c->region);
    c->path_style = cfg->path_style;
    snprintf(c->sse, sizeof c->sse, "%s", cfg->sse);
    snprintf(c->bucket, sizeof c->bucket, "%s", cfg->bucket);
    const char *endpoint = cfg->endpoint[0] ? cfg->endpoint : getenv("AWS_ENDPOINT_URL_S3");
    if (!endpoint || !*endpoint)
        endpoint = getenv("AWS_ENDPOINT_URL");
    char aws_default[128];
    if (endpoint && *endpoint) {
        c->custom_endpoint = true;
    } else {
        snprintf(aws_default, sizeof aws_default, "https://s3.%s.amazonaws.com", c->region);
        endpoint = aws_default;
    }
    if (parse_endpoint(c, endpoint, err, errlen) < 0) {
        free(c);
        return NULL;
    }
    c->creds = aws_creds_new(cfg->profile);
    if (!c->creds) {
        snprintf(err, errlen, "out of memory");
        free(c);
        return NULL;
    }
    return c;
}

void s3_client_free(struct s3_client *c)
{
    if (!c)
        return;
    aws_creds_free(c->creds);
    free(c);
}

void s3_client_refresh_credentials(struct s3_client *c)
{
    aws_creds_invalidate(c->creds);
}

void s3_client_set_list_page_size(struct s3_client *c, unsigned keys)
{
    c->list_page_size = keys > 1000 ? 1000 : keys;
}

const char *s3_client_bucket(const struct s3_client *c)
{
    return c->bucket;
}

static size_t read_upload(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct s3_op *op = arg;
    size_t n = size * nmemb, left = op->upload_len - op->upload_off;
    if (n > left)
        n = left;
    memcpy(buf, op->upload + op->upload_off, n);
    op->upload_off += n;
    return n;
}

static size_t write_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct s3_op *op = arg;
    size_t n = size * nmemb;
    if (op->body_len + n > op->body_max) {
        op->body_overflow = true;
        return 0;
    }
    uint8_t *b = realloc(op->body, op->body_len + n + 1);
    if (!b)
        return 0;
    op->body = b;
    memcpy(op->body + op->body_len, ptr, n);
    op->body_len += n;
    op->body[op->body_len] = '\0';
    return n;
}

static size_t read_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct s3_op *op = arg;
    size_t n = size * nmemb;
    if (n > 5 && n < 128 && strncasecmp(ptr, "Date:", 5) == 0) {
        char value[128];
        snprintf(value, sizeof value, "%.*s", (int)(n - 5), ptr + 5);
        time_t t = curl_getdate(value, NULL);
        if (t > 0)
            op->server_date = (int64_t)t;
    }
    return n;
}

static void set_result(struct s3_result *res, enum s3_outcome o, long status, const char *code, const char *msg)
{
    memset(res, 0, sizeof *res);
    res->outcome = o;
    res->http_status = status;
    snprintf(res->code, sizeof res->code, "%.63s", code);
    snprintf(res->message, sizeof res->message, "%.255s", msg);
}

/* Secrets do not outlive the request they signed. */
static void forget_credentials(struct aws_credentials *cr)
{
    if (cr) {
        OPENSSL_cleanse(cr, sizeof *cr);
        free(cr);
    }
}

/* A request that cannot be made: what it holds is freed (the credentials wiped) and res says why. */
static struct s3_op *abandon(struct s3_op *op, struct aws_credentials *cr, struct s3_result *res, enum s3_outcome o,
                             const char *code, const char *msg)
{
    forget_credentials(cr);
    s3_op_free(op);
    set_result(res, o, 0, code, msg);
    return NULL;
}

/* Builds and signs a request. `query` is already in canonical order and encoding ("" for none). */
static struct s3_op *prepare(struct s3_client *c, const char *method, const char *bucket, const char *key,
                             const char *query, const void *data, size_t len, size_t body_max,
                             struct s3_result *res)
{
    if (!bucket || !*bucket)
        return abandon(NULL, NULL, res, S3_PERMANENT, "NoBucket", "no bucket given");
    if (strlen(key) > S3_KEY_MAX)
        return abandon(NULL, NULL, res, S3_PERMANENT, "KeyTooLongError", "key longer than 1024 bytes");
    struct aws_credentials *cr = malloc(sizeof *cr);
    struct s3_op *op = calloc(1, sizeof *op);
    char err[512];
    if (!cr || !op)
        return abandon(op, cr, res, S3_TRANSIENT, "OutOfMemory", "out of memory");
    if (aws_creds_get(c->creds, cr, err, sizeof err) < 0)
        return abandon(op, cr, res, S3_TRANSIENT, "NoCredentials", err);
    op->client = c;
    op->upload = data;
    op->upload_len = len;
    op->body_max = body_max;

    /* Raw path (signed and sent with the same single encoding) and Host. */
    char path[S3_KEY_MAX + 512], host[CONFIG_STR_MAX + 300], encoded[3 * sizeof path];
    /* a dotted bucket name cannot match the *.s3 TLS certificate as a host name: address it by path */
    bool path_style = c->path_style || strchr(bucket, '.') != NULL;
    if (path_style) {
        snprintf(path, sizeof path, "%s/%s/%s", c->base_path, bucket, key);
        snprintf(host, sizeof host, "%s", c->host);
    } else {
        snprintf(path, sizeof path, "%s/%s", c->base_path, key);
        snprintf(host, sizeof host, "%s.%s", bucket, c->host);
    }
    if (sigv4_uri_encode(path, strlen(path), 1, encoded, sizeof encoded) < 0)
        return abandon(op, cr, res, S3_PERMANENT, "InvalidKey", "key too long to encode");
    int ul = snprintf(op->url, sizeof op->url, "%s://%s%s%s%s", c->scheme, host, encoded, query[0] ? "?" : "", query);
    if (ul < 0 || (size_t)ul >= sizeof op->url)
        return abandon(op, cr, res, S3_PERMANENT, "InvalidKey", "URL too long");

    char amz_date[SIGV4_DATE_LEN + 1], payload_hash[SIGV4_HEX_SHA256 + 1], md5_b64[32] = "";
    sigv4_format_date((int64_t)time(NULL) + c->clock_offset, amz_date);
    if (data) {
        sigv4_sha256_hex(data, len, payload_hash);
        unsigned char md5[EVP_MAX_MD_SIZE];
        unsigned int md5len = 0;
        EVP_Digest(data, len, md5, &md5len, EVP_md5(), NULL);
        EVP_EncodeBlock((unsigned char *)md5_b64, md5, (int)md5len);
    } else {
        snprintf(payload_hash, sizeof payload_hash, "%s", EMPTY_SHA256);
    }

    struct sigv4_header h[8];
    size_t nh = 0;
    h[nh++] = (struct sigv4_header){"host", host};
    h[nh++] = (struct sigv4_header){"x-amz-date", amz_date};
    h[nh++] = (struct sigv4_header){"x-amz-content-sha256", payload_hash};
    if (data) {
        h[nh++] = (struct sigv4_header){"content-md5", md5_b64};
        h[nh++] = (struct sigv4_header){"content-type", "application/octet-stream"};
        if (c->sse[0])
            h[nh++] = (struct sigv4_header){"x-amz-server-side-encryption", c->sse};
    }
    if (cr->session_token[0])
        h[nh++] = (struct sigv4_header){"x-amz-security-token", cr->session_token};
    /* the signer wants the path before encoding; the query is passed encoded and is decoded/re-encoded by it */
    struct sigv4_request sreq = {method, path, query, h, nh, payload_hash};
    struct sigv4_key skey = {cr->access_key_id, cr->secret_access_key, c->region, "s3", amz_date};
    char *authz = sigv4_authorization(&sreq, &skey);
    if (!authz)
        return abandon(op, cr, res, S3_PERMANENT, "SigningFailed", "request too large to sign");

    char line[AWS_CREDS_TOKEN_MAX + 64];
    for (size_t i = 0; i < nh; i++) {
        snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value);
        op->headers = curl_slist_append(op->headers, line);
    }
    snprintf(line, sizeof line, "Authorization: %s", authz);
    op->headers = curl_slist_append(op->headers, line);
    op->headers = curl_slist_append(op->headers, "Expect:"); /* no 100-continue round trip */
    free(authz);
    forget_credentials(cr);

    op->h = curl_easy_init();
    if (!op->h || !op->headers)
        return abandon(op, NULL, res, S3_TRANSIENT, "OutOfMemory", "curl handle");
    CURL *e = op->h;
    curl_easy_setopt(e, CURLOPT_URL, op->url);
    http_set_ca(e);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, op);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* no total timeout (large objects); a stalled transfer is cut after 30 s below 1 byte/s */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (data) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, read_upload);
        curl_easy_setopt(e, CURLOPT_READDATA, op);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    }
    return op;
}

struct s3_op *s3_put_prepare(struct s3_client *c, const char *bucket, const char *key, const void *data, size_t len,
                             struct s3_result *res)
{
    static const uint8_t empty[1];
    return prepare(c, "PUT", bucket, key, "", data ? data : empty, len, S3_ERROR_BODY_MAX, res);
}

CURL *s3_op_handle(struct s3_op *op)
{
    return op->h;
}

void s3_op_complete(struct s3_op *op, CURLcode rc, struct s3_result *res)
{
    long status = 0;
    curl_easy_getinfo(op->h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && op->body_overflow && status >= 300)) {
        set_result(res, S3_TRANSIENT, 0, "NetworkError", op->errbuf[0] ? op->errbuf : curl_easy_strerror(rc));
        return;
    }
    memset(res, 0, sizeof *res);
    res->http_status = status;
    if (status >= 300 && op->body) {
        s3_xml_tag((const char *)op->body, op->body_len, "Code", res->code, sizeof res->code);
        s3_xml_tag((const char *)op->body, op->body_len, "Message", res->message, sizeof res->message);
    }
    /* the code goes into logs and comparisons: keep it a plain token */
    for (char *ch = res->code; *ch; ch++)
        if (!isalnum((unsigned char)*ch) && *ch != '.' && *ch != '_' && *ch != '-')
            *ch = '_';
    if (status >= 300 && !res->code[0])
        snprintf(res->code, sizeof res->code, "HTTP%ld", status);
    res->outcome = s3_classify(status, res->code, &res->refresh_credentials);
    if (res->outcome != S3_OK && strcmp(res->code, "RequestTimeTooSkewed") == 0 && op->server_date > 0) {
        int64_t skew = op->server_date - (int64_t)time(NULL);
        if (skew > CLOCK_SKEW_TOLERANCE || skew < -CLOCK_SKEW_TOLERANCE) {
            op->client->clock_offset = skew;
            log_warn("event=clock_skew offset=%llds note=\"signing with the server's clock\"", (long long)skew);
        }
    }
}

void s3_op_free(struct s3_op *op)
{
    if (!op)
        return;
    if (op->h)
        curl_easy_cleanup(op->h);
    curl_slist_free_all(op->headers);
    free(op->body);
    free(op);
}

static int run_blocking(struct s3_op *op, struct s3_result *res)
{
    CURLcode rc = curl_easy_perform(op->h);
    s3_op_complete(op, rc, res);
    return res->outcome == S3_OK ? 0 : -1;
}

int s3_put_object(struct s3_client *c, const char *bucket, const char *key, const void *data, size_t len,
                  struct s3_result *res)
{
    struct s3_op *op = s3_put_prepare(c, bucket, key, data, len, res);
    if (!op)
        return -1;
    int rc = run_blocking(op, res);
    s3_op_free(op);
    return rc;
}

int s3_get_object(struct s3_client *c, const char *bucket, const char *key, size_t max_len, uint8_t **data,
                  size_t *len, struct s3_result *res)
{
    *data = NULL;
    *len = 0;
    size_t body_max = max_len > S3_ERROR_BODY_MAX ? max_len : S3_ERROR_BODY_MAX;
    struct s3_op *op = prepare(c, "GET", bucket, key, "", NULL, 0, body_max, res);
    if (!op)
        return -1;
    int rc = run_blocking(op, res);
    if ((rc == 0 && op->body_len > max_len) || (rc < 0 && op->body_overflow && res->http_status == 200)) {
        set_result(res, S3_PERMANENT, 200, "TooLarge", "object larger than the accepted maximum");
        rc = -1;
    }
    if (rc == 0) {
        *data = op->body ? op->body : calloc(1, 1);
        *len = op->body_len;
        op->body = NULL;
    }
    s3_op_free(op);
    return rc;
}

/* Appends "name=encoded(value)" to a query in canonical (sorted) order; callers add names alphabetically. */
static void query_add(char *q, size_t qlen, const char *name, const char *value)
{
    char enc[3 * 1024 + 1];
    if (sigv4_uri_encode(value, strlen(value), 0, enc, sizeof enc) < 0)
        enc[0] = '\0';
    size_t used = strlen(q);
    snprintf(q + used, qlen - used, "%s%s=%s", used ? "&" : "", name, enc);
}

int s3_list_objects(struct s3_client *c, const char *bucket, const char *prefix,
                    int (*fn)(const char *key, uint64_t size, void *arg), void *arg, struct s3_result *res)
{
    char token[1024] = "";
    char *query = malloc(8192);
    char *key = malloc(S3_KEY_MAX * 2);
    if (!query || !key) {
        free(query);
        free(key);
        set_result(res, S3_TRANSIENT, 0, "OutOfMemory", "out of memory");
        return -1;
    }
    int rc = 0;
    unsigned long pages = 0;
    for (;;) {
        query[0] = '\0';
        if (token[0])
            query_add(query, 8192, "continuation-token", token);
        query_add(query, 8192, "list-type", "2");
        if (c->list_page_size) {
            char n[16];
            snprintf(n, sizeof n, "%u", c->list_page_size);
            query_add(query, 8192, "max-keys", n);
        }
        if (prefix && *prefix)
            query_add(query, 8192, "prefix", prefix);
        struct s3_op *op = prepare(c, "GET", bucket, "", query, NULL, 0, S3_LIST_BODY_MAX, res);
        if (!op) {
            rc = -1;
            break;
        }
        if (run_blocking(op, res) < 0) {
            s3_op_free(op);
            rc = -1;
            break;
        }
        const char *xml = op->body ? (const char *)op->body : "";
        size_t xlen = op->body_len;
        const char *p = xml;
        bool stop = false;
        while (!stop) {
            const char *start = memmem(p, xlen - (size_t)(p - xml), "<Contents>", 10);
            if (!start)
                break;
            const char *end = memmem(start, xlen - (size_t)(start - xml), "</Contents>", 11);
            if (!end)
                break;
            char size_text[32] = "0";
            size_t clen = (size_t)(end - start);
            if (s3_xml_tag(start, clen, "Key", key, S3_KEY_MAX * 2) == 0) {
                s3_xml_tag(start, clen, "Size", size_text, sizeof size_text);
                if (fn(key, strtoull(size_text, NULL, 10), arg))
                    stop = true;
            }
            p = end + 11;
        }
        char truncated[8] = "false";
        s3_xml_tag(xml, xlen, "IsTruncated", truncated, sizeof truncated);
        char previous[sizeof token];
        memcpy(previous, token, sizeof token);
        bool more = strcmp(truncated, "true") == 0 &&
                    s3_xml_tag(xml, xlen, "NextContinuationToken", token, sizeof token) == 0 && token[0];
        s3_op_free(op);
        if (stop || !more)
            break;
        /* a server that hands the same page back (same token), or pages without end, is not followed for ever */
        if (strcmp(previous, token) == 0 || ++pages >= S3_LIST_MAX_PAGES) {
            set_result(res, S3_PERMANENT, 0, "ListNotProgressing",
                       strcmp(previous, token) == 0 ? "the listing returned the same continuation token twice"
                                                    : "the listing has more pages than lurker follows");
            rc = -1;
            break;
        }
    }
    free(query);
    free(key);
    return rc;
}
