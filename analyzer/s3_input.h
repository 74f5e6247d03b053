/* s3:// inputs through common/s3.h: s3://bucket/key (one object) or s3://bucket/prefix/ (every object under it). */
#ifndef ANALYZER_S3_INPUT_H
#define ANALYZER_S3_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "run.h"

struct s3_client;

struct s3_input {
    struct s3_client *client;  /* created on first use */
    char endpoint[256];        /* --s3-endpoint; "" for AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS */
    char region[64];
    bool path_style;
    size_t max_bytes;
};

/* Settings from the environment: LURKER_S3_PATH_STYLE=1 (or a custom endpoint) selects path-style addressing. */
void s3_input_init(struct s3_input *in, size_t max_bytes);
void s3_input_free(struct s3_input *in);

/* Splits "s3://bucket/rest" into bucket and rest. Returns 0, -1 when url is not such a URL. */
int s3_url_split(const char *url, char *bucket, size_t bucket_size, const char **rest);

/* The client (created on first use; the Lambda also writes its records with it). NULL with a reason in err. */
struct s3_client *s3_input_client(struct s3_input *in, char *err, size_t errlen);

/* Downloads one object. Returns 0 (data malloc'd) or -1 with a reason in err. */
int s3_input_fetch(struct s3_input *in, const char *bucket, const char *key, uint8_t **data, size_t *len, char *err,
                   size_t errlen);

/* Analyses s3://bucket/key or, when the URL ends in '/' or names no key, every object under the prefix.
 * Returns the number of failed objects (or 1 when listing failed). */
int s3_input_run(struct s3_input *in, const char *url, struct run *run);

#endif
