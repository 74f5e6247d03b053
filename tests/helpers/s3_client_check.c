/* Test helper: drives common/s3.c's blocking calls against a server, for the integration tests.
 *   s3_client_check ENDPOINT BUCKET put KEY FILE      store FILE's bytes under KEY
 *   s3_client_check ENDPOINT BUCKET get KEY MAXLEN    object bytes to stdout
 *   s3_client_check ENDPOINT BUCKET list PREFIX [PAGE] "KEY SIZE" lines, PAGE keys per request
 * Path-style addressing; credentials and region from the environment as usual. On failure prints
 * "ERROR outcome=N status=S code=C message=M" on stderr and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "s3.h"

static int print_key(const char *key, uint64_t size, void *arg)
{
    (void)arg;
    printf("%s %llu\n", key, (unsigned long long)size);
    return 0;
}

static int fail(const struct s3_result *r)
{
    fprintf(stderr, "ERROR outcome=%d status=%ld code=%s message=%s\n", r->outcome, r->http_status, r->code,
            r->message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s ENDPOINT BUCKET put KEY FILE | get KEY MAXLEN | list PREFIX\n", argv[0]);
        return 2;
    }
    log_init("s3check", LOG_LEVEL_INFO);
    struct s3_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "%s", argv[1]);
    snprintf(cfg.bucket, sizeof cfg.bucket, "%s", argv[2]);
    cfg.path_style = true;
    char err[256];
    struct s3_client *c = s3_client_new(&cfg, err, sizeof err);
    if (!c) {
        fprintf(stderr, "ERROR %s\n", err);
        return 1;
    }
    struct s3_result r;
    int rc = 0;
    const char *op = argv[3];
    if (!strcmp(op, "put") && argc == 6) {
        FILE *f = fopen(argv[5], "rb");
        static uint8_t buf[1 << 20];
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        rc = s3_put_object(c, argv[2], argv[4], buf, n, &r) == 0 ? 0 : fail(&r);
    } else if (!strcmp(op, "get") && argc == 6) {
        uint8_t *data;
        size_t len;
        if (s3_get_object(c, argv[2], argv[4], strtoull(argv[5], NULL, 10), &data, &len, &r) == 0) {
            fwrite(data, 1, len, stdout);
            free(data);
        } else {
            rc = fail(&r);
        }
    } else if (!strcmp(op, "list")) {
        if (argc == 6)
            s3_client_set_list_page_size(c, (unsigned)strtoul(argv[5], NULL, 10));
        rc = s3_list_objects(c, argv[2], argv[4], print_key, NULL, &r) == 0 ? 0 : fail(&r);
    } else {
        rc = 2;
    }
    s3_client_free(c);
    return rc;
}
