/* AWS credentials, looked up in the order the AWS SDKs use:
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   2. shared credentials file: AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile = the configured one,
 *      else AWS_PROFILE, else "default";
 *   3. the EC2 instance role through IMDSv2: PUT /latest/api/token first, then the role name and its credentials
 *      with the token header. Endpoint from AWS_EC2_METADATA_SERVICE_ENDPOINT (default http://169.254.169.254);
 *      AWS_EC2_METADATA_DISABLED=true means it is never contacted.
 * Credentials that expire are fetched again before they do (see aws_creds_refresh_at). Each (re)load logs one line
 * naming the source, never the secret. */
#ifndef LURKER_AWS_CREDS_H
#define LURKER_AWS_CREDS_H

#include <stddef.h>
#include <stdint.h>

#define AWS_CREDS_TOKEN_MAX 4096

struct aws_credentials {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[AWS_CREDS_TOKEN_MAX]; /* "" when none */
    int64_t expiration;                      /* unix seconds; 0: does not expire */
    char source[96];                         /* "environment", "shared-file profile=X", "imds role=X" */
};

struct aws_creds_provider;

/* The shared credentials file step 2 reads (AWS_SHARED_CREDENTIALS_FILE, else $HOME/.aws/credentials) into PATH;
 * -1 when neither is set or the name does not fit. */
int aws_creds_shared_file_path(char *path, size_t cap);

/* profile: "" or NULL to take AWS_PROFILE, else "default". */
struct aws_creds_provider *aws_creds_new(const char *profile);
void aws_creds_free(struct aws_creds_provider *p);

/* Current credentials, loading or refreshing them when needed. Returns 0, or -1 with a reason in err. */
int aws_creds_get(struct aws_creds_provider *p, struct aws_credentials *out, char *err, size_t errlen);
/* Forget the cached credentials (the server said they expired): the next get reloads them. */
void aws_creds_invalidate(struct aws_creds_provider *p);

/* Pure helpers, exposed for tests. */
/* When to fetch again: five minutes before expiry, or halfway through a lifetime shorter than ten minutes. */
int64_t aws_creds_refresh_at(int64_t fetched_at, int64_t expiration);
/* Finds [profile] in an INI-style credentials file. Returns 0, or -1 (no such profile / keys missing). */
int aws_creds_parse_shared_file(const char *text, size_t len, const char *profile, struct aws_credentials *out);
/* Parses the IMDS role-credentials JSON (AccessKeyId, SecretAccessKey, Token, Expiration). */
int aws_creds_parse_imds_json(const char *json, size_t len, struct aws_credentials *out, char *err, size_t errlen);
/* "2026-11-25T20:00:00Z" -> unix seconds, or -1. */
int64_t aws_creds_parse_iso8601(const char *s);

#endif
