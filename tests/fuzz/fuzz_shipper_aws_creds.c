/* libFuzzer: the AWS credential parsers (common/aws_creds.c): the shared credentials file (any profile) and the
 * JSON IMDS answers, with their ISO-8601 expiry. Invariants: every string filled in is NUL-terminated within its
 * field; a success has a key id and a secret. The first input byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_creds.h"

static void check(const struct aws_credentials *c)
{
    if (memchr(c->access_key_id, '\0', sizeof c->access_key_id) == NULL ||
        memchr(c->secret_access_key, '\0', sizeof c->secret_access_key) == NULL ||
        memchr(c->session_token, '\0', sizeof c->session_token) == NULL ||
        memchr(c->source, '\0', sizeof c->source) == NULL)
        abort();
    if (c->access_key_id[0] == '\0' || c->secret_access_key[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    struct aws_credentials c;
    char err[256];
    switch (data[0] % 4) {
    case 0:
        if (aws_creds_parse_shared_file(text, size - 1, "default", &c) == 0)
            check(&c);
        break;
    case 1:
        if (aws_creds_parse_shared_file(text, size - 1, "lurker", &c) == 0)
            check(&c);
        break;
    case 2:
        if (aws_creds_parse_imds_json(text, size - 1, &c, err, sizeof err) == 0)
            check(&c);
        break;
    default: {
        char iso[64];
        size_t n = size - 1 < sizeof iso - 1 ? size - 1 : sizeof iso - 1;
        memcpy(iso, text, n);
        iso[n] = '\0';
        aws_creds_parse_iso8601(iso);
    }
    }
    free(text);
    return 0;
}
