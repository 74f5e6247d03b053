/* AWS credentials chain: environment, shared credentials file, IMDSv2. See aws_creds.h. */
#include "aws_creds.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_TTL_SECONDS "21600"
#define IMDS_BODY_MAX 16384
#define SHARED_FILE_MAX (1024 * 1024)
#define REFRESH_MARGIN_SECONDS 300
#define FAILED_LOOKUP_HOLD_SECONDS 10 /* after a failed lookup, answer from memory instead of asking IMDS again */

struct aws_creds_provider {
    char profile[64];
    bool have;
    struct aws_credentials cached;
    int64_t refresh_at; /* 0: never */
    int64_t failed_at;  /* last lookup that found nothing */
    char failure[384];
};

static void copy_str(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    if (srclen >= dstlen)
        srclen = dstlen - 1;
    memcpy(dst, src, srclen);
    dst[srclen] = '\0';
}

int64_t aws_creds_refresh_at(int64_t fetched_at, int64_t expiration)
{
    if (expiration <= 0)
        return 0;
    int64_t lifetime = expiration - fetched_at;
    int64_t margin = lifetime / 2 < REFRESH_MARGIN_SECONDS ? lifetime / 2 : REFRESH_MARGIN_SECONDS;
    if (margin < 0)
        margin = 0;
    return expiration - margin;
}

int64_t aws_creds_parse_iso8601(const char *s)
{
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &n) != 6)
        return -1;
    /* fractional seconds and a trailing 'Z' or "+00:00" are accepted; other offsets are not used by AWS */
    const char *rest = s + n;
    if (*rest == '.')
        while (isdigit((unsigned char)*++rest))
            ;
    if (*rest != 'Z' && strcmp(rest, "+00:00") != 0 && *rest != '\0')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

/* ---- 1. environment ---- */

static int from_environment(struct aws_credentials *out)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!id || !*id || !secret || !*secret)
        return -1;
    const char *token = getenv("AWS_SESSION_TOKEN");
    memset(out, 0, sizeof *out);
    copy_str(out->access_key_id, sizeof out->access_key_id, id, strlen(id));
    copy_str(out->secret_access_key, sizeof out->secret_access_key, secret, strlen(secret));
    if (token)
        copy_str(out->session_token, sizeof out->session_token, token, strlen(token));
    snprintf(out->source, sizeof out->source, "environment");
    return 0;
}

/* ---- 2. shared credentials file ---- */

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

int aws_creds_parse_shared_file(const char *text, size_t len, const char *profile, struct aws_credentials *out)
{
    memset(out, 0, sizeof *out);
    bool in_profile = false;
    size_t plen = strlen(profile);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line = p;
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        p = nl ? nl + 1 : end;
        trim(&line, &n);
        if (n == 0 || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            const char *name = line + 1;
            size_t nn = n >= 2 && line[n - 1] == ']' ? n - 2 : 0;
            trim(&name, &nn);
            /* ~/.aws/config style "[profile X]" is accepted too */
            if (nn > 8 && memcmp(name, "profile ", 8) == 0) {
                name += 8;
                nn -= 8;
                trim(&name, &nn);
            }
            in_profile = nn == plen && memcmp(name, profile, plen) == 0;
            continue;
        }
        if (!in_profile)
            continue;
        const char *eq = memchr(line, '=', n);
        if (!eq)
            continue;
        const char *k = line, *v = eq + 1;
        size_t kn = (size_t)(eq - line), vn = n - kn - 1;
        trim(&k, &kn);
        trim(&v, &vn);
        if (kn == 17 && memcmp(k, "aws_access_key_id", 17) == 0)
            copy_str(out->access_key_id, sizeof out->access_key_id, v, vn);
        else if (kn == 21 && memcmp(k, "aws_secret_access_key", 21) == 0)
            copy_str(out->secret_access_key, sizeof out->secret_access_key, v, vn);
        else if (kn == 17 && memcmp(k, "aws_session_token", 17) == 0)
            copy_str(out->session_token, sizeof out->session_token, v, vn);
    }
    if (!out->access_key_id[0] || !out->secret_access_key[0])
        return -1;
    snprintf(out->source, sizeof out->source, "shared-file profile=%s", profile);
    return 0;
}

int aws_creds_shared_file_path(char *path, size_t cap)
{
    const char *env = getenv("AWS_SHARED_CREDENTIALS_FILE");
    const char *home = getenv("HOME");
    int n;
    if (env && *env)
        n = snprintf(path, cap, "%s", env);
    else if (home && *home)
        n = snprintf(path, cap, "%s/.aws/credentials", home);
    else
        return -1;
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int from_shared_file(const char *profile, struct aws_credentials *out)
{
    char path[512];
    if (aws_creds_shared_file_path(path, sizeof path) != 0)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *buf = malloc(SHARED_FILE_MAX);
    size_t n = buf ? fread(buf, 1, SHARED_FILE_MAX, f) : 0;
    fclose(f);
    int rc = buf ? aws_creds_parse_shared_file(buf, n, profile, out) : -1;
    free(buf);
    return rc;
}

/* ---- 3. IMDSv2 ---- */

int aws_creds_parse_imds_json(const char *json, size_t len, struct aws_credentials *out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        snprintf(err, errlen, "credentials document is not a JSON object");
        json_decref(root);
        return -1;
    }
    const char *id = json_string_value(json_object_get(root, "AccessKeyId"));
    const char *secret = json_string_value(json_object_get(root, "SecretAccessKey"));
    const char *token = json_string_value(json_object_get(root, "Token"));
    const char *expiration = json_string_value(json_object_get(root, "Expiration"));
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!id || !secret || !*id || !*secret) {
        snprintf(err, errlen, "credentials document lacks AccessKeyId/SecretAccessKey");
    } else if (strlen(id) >= sizeof out->access_key_id || strlen(secret) >= sizeof out->secret_access_key ||
               (token && strlen(token) >= sizeof out->session_token)) {
        snprintf(err, errlen, "credentials document has oversized fields");
    } else if (expiration && aws_creds_parse_iso8601(expiration) < 0) {
        snprintf(err, errlen, "credentials document has an unreadable Expiration");
    } else {
        copy_str(out->access_key_id, sizeof out->access_key_id, id, strlen(id));
        copy_str(out->secret_access_key, sizeof out->secret_access_key, secret, strlen(secret));
        if (token)
            copy_str(out->session_token, sizeof out->session_token, token, strlen(token));
        out->expiration = expiration ? aws_creds_parse_iso8601(expiration) : 0;
        rc = 0;
    }
    json_decref(root);
    return rc;
}

struct body {
    char data[IMDS_BODY_MAX];
    size_t len;
    bool overflow;
};

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    if (b->len + n >= sizeof b->data) {
        b->overflow = true;
        return 0;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* One IMDS request; 0 and the body on HTTP 200. Short timeouts: off EC2 nothing answers. */
static int imds_request(const char *url, const char *method, const char *header, struct body *b, char *err,
                        size_t errlen)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    b->len = 0;
    b->overflow = false;
    b->data[0] = '\0';
    struct curl_slist *hdrs = curl_slist_append(NULL, header);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "IMDS %s: %s", method, curl_easy_strerror(rc));
        return -1;
    }
    if (status != 200) {
        snprintf(err, errlen, "IMDS %s answered HTTP %ld", method, status);
        return -1;
    }
    return 0;
}

static bool imds_disabled(void)
{
    const char *d = getenv("AWS_EC2_METADATA_DISABLED");
    return d && strcasecmp(d, "true") == 0;
}
/* What the endpoint answers goes into a header and a URL: printable ASCII without space for the token (what IMDS
 * issues), IAM's role-name characters for the role. Anything else (CR, LF, NUL, '/', '?') is refused. */
static bool token_chars_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static bool role_chars_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && !strchr("+=,.@_-", c))
            return false;
    }
    return true;
}

/* The body's first line into out: -1 (and why) if it is empty, does not fit, or fails chars_ok. */
static int first_line(const struct body *b, bool (*chars_ok)(const char *, size_t), char *out, size_t outlen,
                      const char *missing, const char *refused, char *err, size_t errlen)
{
    size_t n = strcspn(b->data, "\r\n");
    if (n == 0 || n >= outlen)
        return snprintf(err, errlen, "%s", missing), -1;
    if (!chars_ok(b->data, n))
        return snprintf(err, errlen, "%s", refused), -1;
    copy_str(out, outlen, b->data, n);
    return 0;
}

static int from_imds(struct aws_credentials *out, char *err, size_t errlen)
{
    if (imds_disabled()) {
        snprintf(err, errlen, "IMDS disabled by AWS_EC2_METADATA_DISABLED");
        return -1;
    }
    char endpoint[256];
    const char *env = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    snprintf(endpoint, sizeof endpoint, "%s", env && *env ? env : IMDS_DEFAULT_ENDPOINT);
    size_t el = strlen(endpoint);
    while (el > 0 && endpoint[el - 1] == '/')
        endpoint[--el] = '\0';

    struct body *b = malloc(sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    char url[512], header[512], token[256], role[128];
    snprintf(url, sizeof url, "%s/latest/api/token", endpoint);
    if (imds_request(url, "PUT", "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL_SECONDS, b, err, errlen))
        goto out;
    if (first_line(b, token_chars_only, token, sizeof token, "IMDS token of unexpected size",
                   "IMDS token holds characters not allowed in a header: not sent", err, errlen))
        goto out;
    snprintf(header, sizeof header, "X-aws-ec2-metadata-token: %s", token);

    snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", endpoint);
    if (imds_request(url, "GET", header, b, err, errlen))
        goto out;
    if (first_line(b, role_chars_only, role, sizeof role, "IMDS lists no instance role",
                   "IMDS role name holds characters IAM does not allow: not put in a URL", err, errlen))
        goto out;
    snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", endpoint, role);
    if (imds_request(url, "GET", header, b, err, errlen))
        goto out;
    if (aws_creds_parse_imds_json(b->data, b->len, out, err, errlen))
        goto out;
    snprintf(out->source, sizeof out->source, "imds role=%.80s", role);
    rc = 0;
out:
    free(b);
    return rc;
}

/* ---- the chain ---- */

struct aws_creds_provider *aws_creds_new(const char *profile)
{
    struct aws_creds_provider *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    const char *env = getenv("AWS_PROFILE");
    const char *name = profile && *profile ? profile : env && *env ? env : "default";
    snprintf(p->profile, sizeof p->profile, "%s", name);
    return p;
}

void aws_creds_free(struct aws_creds_provider *p)
{
    if (p) {
        OPENSSL_cleanse(p, sizeof *p);
        free(p);
    }
}

void aws_creds_invalidate(struct aws_creds_provider *p)
{
    p->refresh_at = 1; /* due now, but keep the old ones in case the reload fails */
}

static int load_chain(struct aws_creds_provider *p, struct aws_credentials *out, char *err, size_t errlen)
{
    if (from_environment(out) == 0 || from_shared_file(p->profile, out) == 0)
        return 0;
    char imds_err[256];
    if (from_imds(out, imds_err, sizeof imds_err) == 0)
        return 0;
    snprintf(err, errlen,
             "no AWS credentials: not in the environment, no profile [%s] in the shared credentials file, %s",
             p->profile, imds_err);
    return -1;
}

int aws_creds_get(struct aws_creds_provider *p, struct aws_credentials *out, char *err, size_t errlen)
{
    int64_t now = (int64_t)time(NULL);
    bool due = !p->have || (p->refresh_at != 0 && now >= p->refresh_at);
    if (due && !p->have && p->failed_at && now - p->failed_at < FAILED_LOOKUP_HOLD_SECONDS) {
        /* without this, every request would wait for the IMDS timeouts again off EC2 */
        snprintf(err, errlen, "%s", p->failure);
        return -1;
    }
    if (due) {
        struct aws_credentials fresh;
        if (load_chain(p, &fresh, err, errlen) == 0) {
            p->cached = fresh;
            p->have = true;
            p->refresh_at = aws_creds_refresh_at(now, fresh.expiration);
            if (fresh.expiration)
                log_info("event=credentials source=\"%s\" session_token=%s expires_in=%llds refresh_in=%llds",
                         fresh.source, fresh.session_token[0] ? "yes" : "no",
                         (long long)(fresh.expiration - now), (long long)(p->refresh_at - now));
            else
                log_info("event=credentials source=\"%s\" session_token=%s", fresh.source,
                         fresh.session_token[0] ? "yes" : "no");
        } else if (!p->have || (p->cached.expiration && now >= p->cached.expiration)) {
            p->failed_at = now;
            p->have = false;
            snprintf(p->failure, sizeof p->failure, "%s", err);
            log_warn("event=credentials_missing reason=\"%s\"", err);
            return -1;
        } else {
            log_warn("event=credentials_refresh_failed source=\"%s\" reason=\"%s\" using=cached", p->cached.source,
                     err);
        }
    }
    *out = p->cached;
    return 0;
}
