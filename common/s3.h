/* A small S3 client on libcurl: PutObject, GetObject, ListObjectsV2, signed with AWS Signature V4.
 * Shared by the shipper (uploads) and the analyzer (s3:// inputs, Lambda events).
 * Credentials come from aws_creds.h in the order the AWS SDKs use; the endpoint from the config or, as in the AWS
 * SDKs, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. */
#ifndef LURKER_S3_H
#define LURKER_S3_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "config.h"

struct s3_client;

enum s3_outcome {
    S3_OK = 0,
    S3_TRANSIENT,   /* network error, 5xx, throttling, expired credentials, clock skew: retry with backoff */
    S3_PERMANENT,   /* bucket missing, access denied, bad digest...: park, do not retry soon */
};

struct s3_result {
    enum s3_outcome outcome;
    long http_status;          /* 0 when no HTTP answer */
    char code[64];             /* S3 error Code, e.g. "SignatureDoesNotMatch", or curl's error name */
    char message[256];
    int refresh_credentials;   /* the server said the credentials expired or are invalid tokens: reload them */
};

/* cfg->bucket may be empty for a client used with explicit buckets (analyzer). */
struct s3_client *s3_client_new(const struct s3_config *cfg, char *err, size_t errlen);
void s3_client_free(struct s3_client *c);

int s3_put_object(struct s3_client *c, const char *bucket, const char *key, const void *data, size_t len,
                  struct s3_result *res);
/* *data is malloc'd (caller frees); max_len bounds what is accepted. */
int s3_get_object(struct s3_client *c, const char *bucket, const char *key, size_t max_len, uint8_t **data,
                  size_t *len, struct s3_result *res);
/* Calls fn for each key under prefix (all pages). fn returns non-zero to stop. */
int s3_list_objects(struct s3_client *c, const char *bucket, const char *prefix,
                    int (*fn)(const char *key, uint64_t size, void *arg), void *arg, struct s3_result *res);

/* ---- Asynchronous use (the shipper drives many requests through one curl multi handle) ----
 * s3_put_prepare signs a PutObject and returns an operation whose curl easy handle the caller adds to its multi
 * handle; when curl reports the transfer done, s3_op_complete classifies the answer like s3_put_object does.
 * `data` must stay valid until s3_op_free. On failure to prepare (no credentials, bad key) it returns NULL and
 * fills *res. */
struct s3_op;
struct s3_op *s3_put_prepare(struct s3_client *c, const char *bucket, const char *key, const void *data, size_t len,
                             struct s3_result *res);
CURL *s3_op_handle(struct s3_op *op);
void s3_op_complete(struct s3_op *op, CURLcode rc, struct s3_result *res);
void s3_op_free(struct s3_op *op);

/* Forget cached credentials (after an ExpiredToken answer) so the next request loads fresh ones. */
void s3_client_refresh_credentials(struct s3_client *c);
/* Keys per ListObjectsV2 page (1..1000; 0 = the server's default of 1000). Smaller pages are for tests. */
void s3_client_set_list_page_size(struct s3_client *c, unsigned keys);
/* Bucket the client was configured with ("" if none). */
const char *s3_client_bucket(const struct s3_client *c);

/* Pure helpers, exposed for tests. */
/* Outcome for an HTTP status and S3 error code (code may be ""). */
enum s3_outcome s3_classify(long http_status, const char *code, int *refresh_credentials);
/* Copies the text of the first <tag>...</tag> in xml (entities decoded) into out. Returns 0 or -1 if absent. */
int s3_xml_tag(const char *xml, size_t len, const char *tag, char *out, size_t outlen);

#endif
