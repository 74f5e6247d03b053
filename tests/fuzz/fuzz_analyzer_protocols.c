/* libFuzzer: every protocol recogniser and the Lambda event parser on arbitrary bytes. Recognised strings must be
 * printable ASCII and NUL-terminated within their arrays. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../analyzer/lambda_event.h"
#include "../../analyzer/recognise.h"

static void printable(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    if (n == size)
        abort();
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct recognised r;
    size_t half = size / 2;
    recognise(data, size, data + half, size - half, size & 1, &r);
    printable(r.ssh_banner, sizeof r.ssh_banner);
    printable(r.ssh_server_banner, sizeof r.ssh_server_banner);
    printable(r.http_path, sizeof r.http_path);
    printable(r.http_host, sizeof r.http_host);
    printable(r.http_user_agent, sizeof r.http_user_agent);
    printable(r.tls_sni, sizeof r.tls_sni);
    printable(r.tls_ja3_full, sizeof r.tls_ja3_full);
    for (size_t i = 0; i < r.tls_nalpn; i++)
        printable(r.tls_alpn[i], sizeof r.tls_alpn[i]);
    printable(r.rdp_cookie, sizeof r.rdp_cookie);
    printable(r.redis_command, sizeof r.redis_command);
    printable(r.dns_qname, sizeof r.dns_qname);

    /* each recogniser alone too, so an earlier match does not hide a later parser */
    memset(&r, 0, sizeof r);
    recognise_tls(data, size, &r);
    recognise_http(data, size, &r);
    recognise_rdp(data, size, &r);
    recognise_redis(data, size, &r);
    recognise_dns(data, size, &r);
    char banner[64];
    recognise_ssh(data, size, banner, sizeof banner);

    struct lambda_objects o;
    char err[128];
    if (lambda_event_objects((const char *)data, size, &o, err, sizeof err) == 0)
        lambda_objects_free(&o);
    return 0;
}
