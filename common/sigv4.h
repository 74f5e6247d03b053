/* AWS Signature Version 4, computed by hand with OpenSSL's SHA-256 and HMAC.
 *
 * Why our own signer and not CURLOPT_AWS_SIGV4: curl 7.88 does not add x-amz-content-sha256, signs a hand-set
 * X-Amz-Date twice, and cannot be checked against the AWS test vectors step by step. Here each stage (canonical
 * request, string to sign, Authorization value) is a separate function the unit tests compare byte-exactly.
 *
 * S3 rules apply: the path is URI-encoded once and never normalised (no "." / ".." folding, no "//" merging). */
#ifndef LURKER_SIGV4_H
#define LURKER_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define SIGV4_MAX_HEADERS 32
#define SIGV4_DATE_LEN 16    /* "20150830T123600Z" */
#define SIGV4_HEX_SHA256 64  /* hex digits of a SHA-256 */
#define SIGV4_MAX_TEXT 65536 /* bound on the canonical request and the Authorization value */

struct sigv4_header {
    const char *name;  /* any case; signed lower-cased */
    const char *value; /* raw; trimmed and inner whitespace runs folded to one space; "\n" continuation -> "," */
};

struct sigv4_request {
    const char *method;
    const char *path;          /* raw (not yet encoded) path, starting with '/' */
    const char *query;         /* raw query without '?', "k=v&k2=v2"; NULL or "" for none */
    const struct sigv4_header *headers; /* every header to sign, including host and x-amz-date */
    size_t nheaders;
    const char *payload_hash;  /* lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
};

struct sigv4_key {
    const char *access_key;
    const char *secret_key;
    const char *region;
    const char *service;       /* "s3" */
    const char *amz_date;      /* "YYYYMMDDTHHMMSSZ", same as the x-amz-date header */
};

/* Each returns a malloc'd NUL-terminated string (caller frees) or NULL when a bound is exceeded / out of memory. */
char *sigv4_canonical_request(const struct sigv4_request *req);
char *sigv4_string_to_sign(const char *canonical_request, const struct sigv4_key *key);
/* The full Authorization header value: "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...". */
char *sigv4_authorization(const struct sigv4_request *req, const struct sigv4_key *key);

/* Helpers the S3 client shares. */
void sigv4_sha256_hex(const void *data, size_t len, char out[SIGV4_HEX_SHA256 + 1]);
/* "YYYYMMDDTHHMMSSZ" for unix time t (UTC). */
void sigv4_format_date(int64_t t, char out[SIGV4_DATE_LEN + 1]);
/* URI-encodes every byte except A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash). Returns bytes written (without NUL),
 * or -1 if out is too small. */
long sigv4_uri_encode(const char *in, size_t inlen, int keep_slash, char *out, size_t outlen);

#endif
