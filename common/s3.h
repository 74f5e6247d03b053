/* A small S3 client on libcurl: PutObject, GetObject, ListObjectsV2, signed with AWS Signature V4.
 * Shared by the shipper (uploads) and the analyzer (s3:// inputs, Lambda events).
 * Credentials come from aws_creds.h in the order the AWS SDKs use; the endpoint from the config or, as in the AWS
 * SDKs, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. */
#ifndef LURKER_S3_H
#define LURKER_S3_H

#include <stddef.h>
#include <stdint.h>

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

#endif
