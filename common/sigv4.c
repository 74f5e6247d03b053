/* AWS Signature Version 4: canonical request -> string to sign -> signature. See sigv4.h. */
#include "sigv4.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hex.h"

/* A growable string with a hard maximum (SIGV4_MAX_TEXT); once over, it stays failed. */
struct text {
    char *p;
    size_t len, cap;
    bool failed;
};

static void text_append(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > SIGV4_MAX_TEXT) {
        t->failed = true;
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 512;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

/* Appends each string in turn: text_puts(t, a, b, ...). */
#define text_puts(t, ...) text_put_strings(t, (const char *const[]){__VA_ARGS__, NULL})
static void text_put_strings(struct text *t, const char *const *s)
{
    for (; *s; s++)
        text_append(t, *s, strlen(*s));
}

/* Returns the string (caller frees) or NULL if the text overflowed. */
static char *text_finish(struct text *t)
{
    if (t->failed || !t->p) {
        free(t->p);
        return t->failed ? NULL : strdup("");
    }
    return t->p;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char out[SIGV4_HEX_SHA256 + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    hex_encode(md, 32, out);
}

void sigv4_format_date(int64_t t, char out[SIGV4_DATE_LEN + 1])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

static bool is_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

long sigv4_uri_encode(const char *in, size_t inlen, int keep_slash, char *out, size_t outlen)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < inlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)c;
        } else {
            if (o + 3 >= outlen)
                return -1;
            out[o++] = '%';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 15];
        }
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return (long)o;
}

static void text_uri_encode(struct text *t, const char *in, size_t n, int keep_slash)
{
    char buf[3 * 256 + 1];
    while (n > 0) {
        size_t chunk = n > 256 ? 256 : n;
        long w = sigv4_uri_encode(in, chunk, keep_slash, buf, sizeof buf);
        if (w < 0) {
            t->failed = true;
            return;
        }
        text_append(t, buf, (size_t)w);
        in += chunk;
        n -= chunk;
    }
}

/* Percent-decodes in[0..n) into a malloc'd string, so that already-encoded query parts are not encoded twice. */
static char *percent_decode(const char *in, size_t n, size_t *outlen)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '%' && i + 2 < n && hex_digit_value(in[i + 1]) >= 0 && hex_digit_value(in[i + 2]) >= 0) {
            out[o++] = (char)(hex_digit_value(in[i + 1]) * 16 + hex_digit_value(in[i + 2]));
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

struct query_param {
    char *key;   /* encoded */
    char *value; /* encoded */
};

static int compare_params(const void *a, const void *b)
{
    const struct query_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

static char *encode_part(const char *s, size_t n)
{
    size_t dlen;
    char *decoded = percent_decode(s, n, &dlen);
    if (!decoded)
        return NULL;
    struct text t = {0};
    text_uri_encode(&t, decoded, dlen, 0);
    free(decoded);
    return text_finish(&t);
}

static void canonical_query(struct text *out, const char *query)
{
    if (!query || !*query)
        return;
    size_t count = 1;
    for (const char *p = query; *p; p++)
        count += *p == '&';
    if (count > 1024) {
        out->failed = true;
        return;
    }
    struct query_param *params = calloc(count, sizeof *params);
    if (!params) {
        out->failed = true;
        return;
    }
    size_t n = 0;
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            params[n].key = encode_part(p, klen);
            params[n].value = eq ? encode_part(eq + 1, len - klen - 1) : strdup("");
            if (!params[n].key || !params[n].value)
                out->failed = true;
            n++;
        }
        p += len + (end ? 1 : 0);
        if (!end)
            break;
    }
    if (!out->failed) {
        qsort(params, n, sizeof *params, compare_params);
        for (size_t i = 0; i < n; i++) {
            text_puts(out, i ? "&" : "", params[i].key, "=", params[i].value);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(params[i].key);
        free(params[i].value);
    }
    free(params);
}

/* Header value as SigV4 wants it: each line trimmed, lines joined with ',', inner whitespace runs folded. */
static void canonical_value(struct text *out, const char *v)
{
    bool first_line = true;
    while (true) {
        const char *nl = strchr(v, '\n');
        size_t len = nl ? (size_t)(nl - v) : strlen(v);
        size_t a = 0, b = len;
        while (a < b && isspace((unsigned char)v[a]))
            a++;
        while (b > a && isspace((unsigned char)v[b - 1]))
            b--;
        if (!first_line)
            text_puts(out, ",");
        bool in_space = false;
        for (size_t i = a; i < b; i++) {
            if (isspace((unsigned char)v[i])) {
                in_space = true;
                continue;
            }
            if (in_space)
                text_puts(out, " ");
            in_space = false;
            text_append(out, &v[i], 1);
        }
        first_line = false;
        if (!nl)
            break;
        v = nl + 1;
    }
}

struct lower_header {
    char name[128];
    const char *value;
};

/* Lower-cased names, stably sorted, so repeated names keep their order when joined with ','. */
static int sorted_headers(const struct sigv4_request *req, struct lower_header *out)
{
    if (req->nheaders > SIGV4_MAX_HEADERS)
        return -1;
    for (size_t i = 0; i < req->nheaders; i++) {
        size_t n = strlen(req->headers[i].name);
        if (n == 0 || n >= sizeof out[i].name)
            return -1;
        for (size_t j = 0; j < n; j++)
            out[i].name[j] = (char)tolower((unsigned char)req->headers[i].name[j]);
        out[i].name[n] = '\0';
        out[i].value = req->headers[i].value;
    }
    for (size_t i = 1; i < req->nheaders; i++) {
        struct lower_header h = out[i];
        size_t j = i;
        while (j > 0 && strcmp(out[j - 1].name, h.name) > 0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = h;
    }
    return 0;
}

static void signed_header_list(struct text *out, const struct lower_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0)
            continue;
        text_puts(out, i > 0 ? ";" : "", h[i].name);
    }
}

char *sigv4_canonical_request(const struct sigv4_request *req)
{
    struct lower_header hs[SIGV4_MAX_HEADERS];
    if (sorted_headers(req, hs) < 0)
        return NULL;
    struct text t = {0};
    text_puts(&t, req->method, "\n");
    text_uri_encode(&t, req->path, strlen(req->path), 1);
    text_puts(&t, "\n");
    canonical_query(&t, req->query);
    text_puts(&t, "\n");
    for (size_t i = 0; i < req->nheaders; i++) {
        bool same_as_previous = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
        if (same_as_previous)
            text_puts(&t, ",");
        else
            text_puts(&t, i > 0 ? "\n" : "", hs[i].name, ":");
        canonical_value(&t, hs[i].value);
    }
    text_puts(&t, "\n\n");
    signed_header_list(&t, hs, req->nheaders);
    text_puts(&t, "\n", req->payload_hash);
    return text_finish(&t);
}

static void scope_of(const struct sigv4_key *key, struct text *t)
{
    text_append(t, key->amz_date, 8);
    text_puts(t, "/", key->region, "/", key->service, "/aws4_request");
}

char *sigv4_string_to_sign(const char *canonical_request, const struct sigv4_key *key)
{
    if (strlen(key->amz_date) != SIGV4_DATE_LEN)
        return NULL;
    char hash[SIGV4_HEX_SHA256 + 1];
    sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash);
    struct text t = {0};
    text_puts(&t, "AWS4-HMAC-SHA256\n", key->amz_date, "\n");
    scope_of(key, &t);
    text_puts(&t, "\n", hash);
    return text_finish(&t);
}

static void hmac(const void *k, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    unsigned int outlen = 32;
    HMAC(EVP_sha256(), k, (int)klen, msg, mlen, out, &outlen);
}

char *sigv4_authorization(const struct sigv4_request *req, const struct sigv4_key *key)
{
    char *creq = sigv4_canonical_request(req);
    if (!creq)
        return NULL;
    char *sts = sigv4_string_to_sign(creq, key);
    free(creq);
    if (!sts)
        return NULL;

    /* kSecret -> kDate -> kRegion -> kService -> kSigning */
    size_t slen = strlen(key->secret_key);
    char *ksecret = malloc(slen + 5);
    if (!ksecret) {
        free(sts);
        return NULL;
    }
    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, key->secret_key, slen);
    unsigned char k[32], sig[32];
    hmac(ksecret, slen + 4, key->amz_date, 8, k);
    OPENSSL_cleanse(ksecret, slen + 4);
    free(ksecret);
    hmac(k, 32, key->region, strlen(key->region), k);
    hmac(k, 32, key->service, strlen(key->service), k);
    hmac(k, 32, "aws4_request", 12, k);
    hmac(k, 32, sts, strlen(sts), sig);
    OPENSSL_cleanse(k, sizeof k);
    free(sts);
    char sighex[65];
    hex_encode(sig, 32, sighex);

    struct lower_header hs[SIGV4_MAX_HEADERS];
    if (sorted_headers(req, hs) < 0)
        return NULL;
    struct text t = {0};
    text_puts(&t, "AWS4-HMAC-SHA256 Credential=", key->access_key, "/");
    scope_of(key, &t);
    text_puts(&t, ", SignedHeaders=");
    signed_header_list(&t, hs, req->nheaders);
    text_puts(&t, ", Signature=", sighex);
    return text_finish(&t);
}
