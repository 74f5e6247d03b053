/* The signer against a second reference: botocore's S3SigV4Auth (pyenv python3 has botocore), for the requests
 * lurker's S3 client sends (PutObject with Content-MD5, SSE and a session token, GetObject, ListObjectsV2), with
 * keys that need encoding. Same credentials, same time, same headers; the Authorization values must be equal. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sigv4.h"

static const char *BOTOCORE_SIGNER =
    "import json, sys, datetime\n"
    "import botocore.auth\n"
    "from botocore.awsrequest import AWSRequest\n"
    "from botocore.credentials import Credentials\n"
    "fixed = datetime.datetime(2026, 11, 25, 12, 34, 56)\n"
    "botocore.auth.get_current_datetime = lambda *a, **k: fixed\n"
    "for case in json.load(open(sys.argv[1])):\n"
    "    creds = Credentials('AKIDEXAMPLE', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', case['token'] or None)\n"
    "    req = AWSRequest(method=case['method'], url=case['url'], headers=case['headers'],\n"
    "                     data=case['body'].encode())\n"
    "    botocore.auth.S3SigV4Auth(creds, 's3', 'eu-west-1').add_auth(req)\n"
    "    print(req.headers['Authorization'])\n";

struct signing_case {
    const char *method;
    const char *host;
    const char *path;  /* raw */
    const char *query; /* already encoded, canonical order */
    const char *body;
    const char *token;
    const char *sse;
};

static const struct signing_case CASES[] = {
    {"PUT", "127.0.0.1:5000", "/lurker-test/pcap/2026/11/25/12/1764074096_198.51.100.2_203.0.113.10_40000_22.pcap",
     "", "pcap bytes", "", ""},
    {"PUT", "bucket.s3.eu-west-1.amazonaws.com", "/sensors/pcap/2001-db8--1_x.pcap", "", "data", "",
     "AES256"},
    {"PUT", "s3.eu-west-1.amazonaws.com", "/b/k with space/ünï~code+plus=eq&amp.pcap", "", "x", "FQoGZXIvYXdzEXAMPLE/+=token",
     "aws:kms"},
    {"GET", "127.0.0.1:5000", "/lurker-test/a/b.pcap", "", "", "SESSIONTOKEN", ""},
    {"GET", "127.0.0.1:5000", "/lurker-test/", "continuation-token=1%2Fabc%3D%3D&list-type=2&prefix=pcap%2F2026%2F",
     "", "", ""},
};

static void md5_base64(const char *data, size_t len, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

/* Our Authorization for a case, with the header set s3.c sends. */
static char *ours(const struct signing_case *c)
{
    char payload[SIGV4_HEX_SHA256 + 1], md5[32];
    sigv4_sha256_hex(c->body, strlen(c->body), payload);
    md5_base64(c->body, strlen(c->body), md5);
    struct sigv4_header h[8];
    size_t n = 0;
    h[n++] = (struct sigv4_header){"host", c->host};
    h[n++] = (struct sigv4_header){"x-amz-date", "20261125T123456Z"};
    h[n++] = (struct sigv4_header){"x-amz-content-sha256", payload};
    if (strcmp(c->method, "PUT") == 0) {
        h[n++] = (struct sigv4_header){"content-md5", md5};
        h[n++] = (struct sigv4_header){"content-type", "application/octet-stream"};
    }
    if (c->sse[0])
        h[n++] = (struct sigv4_header){"x-amz-server-side-encryption", c->sse};
    if (c->token[0])
        h[n++] = (struct sigv4_header){"x-amz-security-token", c->token};
    struct sigv4_request req = {c->method, c->path, c->query, h, n, payload};
    struct sigv4_key key = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1", "s3",
                            "20261125T123456Z"};
    return sigv4_authorization(&req, &key);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The URL botocore signs: path encoded the way our client sends it. */
static void write_case(FILE *f, const struct signing_case *c)
{
    char encoded[2048], md5[32];
    sigv4_uri_encode(c->path, strlen(c->path), 1, encoded, sizeof encoded);
    md5_base64(c->body, strlen(c->body), md5);
    char url[4096];
    snprintf(url, sizeof url, "http://%s%s%s%s", c->host, encoded, c->query[0] ? "?" : "", c->query);
    fprintf(f, "{\"method\": \"%s\", \"url\": ", c->method);
    json_string(f, url);
    fprintf(f, ", \"body\": ");
    json_string(f, c->body);
    fprintf(f, ", \"token\": ");
    json_string(f, c->token);
    fprintf(f, ", \"headers\": {");
    if (strcmp(c->method, "PUT") == 0)
        fprintf(f, "\"Content-MD5\": \"%s\", \"Content-Type\": \"application/octet-stream\"%s", md5,
                c->sse[0] ? ", " : "");
    if (c->sse[0])
        fprintf(f, "\"x-amz-server-side-encryption\": \"%s\"", c->sse);
    fprintf(f, "}}");
}

Test(sigv4, agrees_with_botocore_s3_signer)
{
    char dir[] = "/tmp/lurker-sigv4-XXXXXX";
    cr_assert(mkdtemp(dir));
    char script[128], spec[128], cmd[512];
    snprintf(script, sizeof script, "%s/sign.py", dir);
    snprintf(spec, sizeof spec, "%s/cases.json", dir);
    FILE *f = fopen(script, "w");
    fputs(BOTOCORE_SIGNER, f);
    fclose(f);
    f = fopen(spec, "w");
    size_t ncases = sizeof CASES / sizeof *CASES;
    fputc('[', f);
    for (size_t i = 0; i < ncases; i++) {
        if (i)
            fputc(',', f);
        write_case(f, &CASES[i]);
    }
    fputc(']', f);
    fclose(f);

    const char *py = getenv("PYTHON");
    snprintf(cmd, sizeof cmd, "%s %s %s", py && *py ? py : "python3", script, spec);
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    char line[1024];
    size_t i = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        cr_assert(i < ncases);
        char *mine = ours(&CASES[i]);
        cr_assert(mine);
        cr_expect_str_eq(mine, line, "case %zu (%s %s): ours vs botocore", i, CASES[i].method, CASES[i].path);
        free(mine);
        i++;
    }
    int status = pclose(p);
    unlink(script);
    unlink(spec);
    rmdir(dir);
    cr_expect_eq(status, 0, "botocore signer script failed (is botocore installed for %s?)", py ? py : "python3");
    cr_expect_eq(i, ncases, "botocore signed %zu of %zu cases", i, ncases);
}
