/* The signer against every case of the AWS SigV4 test suite in tests/data/sigv4 (AWS's public suite, copied into the repo),
 * byte-exact for the canonical request, the string to sign and the Authorization value. the normalize-path cases are skipped:
 * S3 never normalises paths (see the suite's README.txt). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigv4.h"

#define VECTOR_CASES_FOR_S3 24 /* 31 cases minus the 7 normalize-path ones */

static void vectors_dir(char *out, size_t outlen)
{
    const char *root = getenv("LURKER_ROOT");
    snprintf(out, outlen, "%s/tests/data/sigv4", root && *root ? root : ".");
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

struct parsed_request {
    char method[16];
    char path[1024];
    char query[1024];
    char names[SIGV4_MAX_HEADERS][128];
    char values[SIGV4_MAX_HEADERS][2048];
    struct sigv4_header headers[SIGV4_MAX_HEADERS];
    size_t nheaders;
    const char *body;
    size_t body_len;
};

/* The suite's .req format: request line, "Name:value" lines (continuations start with whitespace), blank line, body. */
static void parse_req(char *text, size_t len, struct parsed_request *r)
{
    memset(r, 0, sizeof *r);
    char *line_end = strchr(text, '\n');
    cr_assert(line_end != NULL);
    *line_end = '\0';
    char target[1024];
    cr_assert(sscanf(text, "%15s %1023s", r->method, target) == 2);
    /* the path may hold a space (get-space); take everything up to the last " HTTP/" */
    char *http = strstr(text, " HTTP/");
    char *sp = strchr(text, ' ');
    size_t tlen = (size_t)(http - sp - 1);
    memcpy(target, sp + 1, tlen);
    target[tlen] = '\0';
    char *q = strchr(target, '?');
    if (q) {
        *q = '\0';
        snprintf(r->query, sizeof r->query, "%s", q + 1);
    }
    snprintf(r->path, sizeof r->path, "%s", target);

    char *p = line_end + 1;
    char *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l == 0) {
            r->body = nl ? nl + 1 : end;
            r->body_len = (size_t)(end - r->body);
            break;
        }
        if (p[0] == ' ' || p[0] == '\t') {
            cr_assert(r->nheaders > 0);
            char *v = r->values[r->nheaders - 1];
            size_t vl = strlen(v);
            snprintf(v + vl, sizeof r->values[0] - vl, "\n%.*s", (int)l, p);
        } else {
            char *colon = memchr(p, ':', l);
            cr_assert(colon != NULL);
            cr_assert(r->nheaders < SIGV4_MAX_HEADERS);
            snprintf(r->names[r->nheaders], sizeof r->names[0], "%.*s", (int)(colon - p), p);
            snprintf(r->values[r->nheaders], sizeof r->values[0], "%.*s", (int)(l - (size_t)(colon - p) - 1),
                     colon + 1);
            r->nheaders++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (!r->body)
        r->body = "";
    for (size_t i = 0; i < r->nheaders; i++) {
        r->headers[i].name = r->names[i];
        r->headers[i].value = r->values[i];
    }
}

static int check_case(const char *dir, const char *name)
{
    char path[PATH_MAX + 512];
    size_t len;
    snprintf(path, sizeof path, "%s/%s.req", dir, name);
    char *req_text = read_whole(path, &len);
    cr_assert(req_text, "cannot read %s", path);
    struct parsed_request *r = malloc(sizeof *r);
    parse_req(req_text, len, r);

    char payload_hash[SIGV4_HEX_SHA256 + 1];
    sigv4_sha256_hex(r->body, r->body_len, payload_hash);
    struct sigv4_request req = {
        .method = r->method, .path = r->path, .query = r->query, .headers = r->headers, .nheaders = r->nheaders,
        .payload_hash = payload_hash,
    };
    struct sigv4_key key = {
        .access_key = "AKIDEXAMPLE", .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        .region = "us-east-1", .service = "service", .amz_date = "20150830T123600Z",
    };

    const char *exts[] = {"creq", "sts", "authz"};
    char *got[3];
    got[0] = sigv4_canonical_request(&req);
    got[1] = got[0] ? sigv4_string_to_sign(got[0], &key) : NULL;
    got[2] = sigv4_authorization(&req, &key);
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s.%s", dir, name, exts[i]);
        char *want = read_whole(path, NULL);
        cr_assert(want, "cannot read %s", path);
        cr_expect(got[i] != NULL, "%s.%s: signer returned NULL", name, exts[i]);
        if (got[i] && strcmp(got[i], want) != 0) {
            cr_log_error("%s.%s differs:\n--- want\n%s\n--- got\n%s", name, exts[i], want, got[i]);
            bad++;
        }
        free(want);
        free(got[i]);
    }
    free(r);
    free(req_text);
    return bad;
}

/* Walks the suite; returns how many cases were checked, adds mismatches to *bad. */
static int walk(const char *dir, int *bad)
{
    int checked = 0;
    DIR *d = opendir(dir);
    cr_assert(d, "cannot open %s (the suite lives in tests/data/sigv4)", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "normalize-path") == 0)
            continue;
        char sub[PATH_MAX], req[PATH_MAX + 300];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        snprintf(req, sizeof req, "%s/%s.req", sub, e->d_name);
        if (access(req, R_OK) == 0) {
            *bad += check_case(sub, e->d_name);
            checked++;
        } else {
            checked += walk(sub, bad);
        }
    }
    closedir(d);
    return checked;
}

Test(sigv4, aws_test_suite_byte_exact)
{
    char dir[PATH_MAX];
    vectors_dir(dir, sizeof dir);
    int bad = 0;
    int checked = walk(dir, &bad);
    cr_expect_eq(checked, VECTOR_CASES_FOR_S3, "checked %d cases, expected %d", checked, VECTOR_CASES_FOR_S3);
    cr_expect_eq(bad, 0, "%d mismatching outputs", bad);
}

Test(sigv4, uri_encode_s3_path)
{
    char out[64];
    cr_expect_eq(sigv4_uri_encode("a b/c~d", 7, 1, out, sizeof out), 9);
    cr_expect_str_eq(out, "a%20b/c~d");
    cr_expect_eq(sigv4_uri_encode("a/b", 3, 0, out, sizeof out), 5);
    cr_expect_str_eq(out, "a%2Fb");
    cr_expect_eq(sigv4_uri_encode("::::", 4, 1, out, 8), -1, "too small a buffer is an error, not a truncation");
}

Test(sigv4, too_many_headers_refused)
{
    struct sigv4_header h[SIGV4_MAX_HEADERS + 1];
    for (size_t i = 0; i < SIGV4_MAX_HEADERS + 1; i++)
        h[i] = (struct sigv4_header){"x-a", "b"};
    struct sigv4_request req = {"GET", "/", "", h, SIGV4_MAX_HEADERS + 1, "UNSIGNED-PAYLOAD"};
    cr_expect_null(sigv4_canonical_request(&req));
}
