/* libFuzzer: shipper.key_template expansion (shipper/keytemplate.c) with an arbitrary template, prefix and flow
 * fields. Whatever the template, a key that expands must be a safe relative path (key_is_safe): no leading '/', no
 * "." or ".." segment, only [A-Za-z0-9-._/]; a refusal must say why. Input: template NUL prefix NUL sensor NUL then
 * the flow's identity (common/flowid.h) as raw bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shipper/keytemplate.h"

/* The next NUL-terminated piece of the input (at most outlen - 1 bytes), advancing *p. */
static void take_string(const uint8_t **p, const uint8_t *end, char *out, size_t outlen)
{
    size_t n = 0;
    while (*p < end && **p != '\0' && n < outlen - 1)
        out[n++] = (char)*(*p)++;
    out[n] = '\0';
    if (*p < end)
        (*p)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char template[512], prefix[128], sensor[64];
    take_string(&p, end, template, sizeof template);
    take_string(&p, end, prefix, sizeof prefix);
    take_string(&p, end, sensor, sizeof sensor);
    struct spool_name m;
    memset(&m, 0, sizeof m);
    size_t rest = (size_t)(end - p);
    uint8_t tail[76] = {0};
    memcpy(tail, p, rest < sizeof tail ? rest : sizeof tail);
    memcpy(&m.first_us, tail, 8);
    memcpy(&m.id.remote_port, tail + 8, 2);
    memcpy(&m.id.local_port, tail + 10, 2);
    memcpy(&m.duplicate, tail + 12, 4);
    m.batch = (tail[15] & 1) != 0;
    m.id.proto = tail[16];
    m.id.remote.family = tail[17];
    m.id.local.family = tail[18];
    memcpy(m.id.remote.bytes, tail + 19, 16);
    memcpy(m.id.local.bytes, tail + 35, 16);
    memcpy(&m.batch_pid, tail + 51, 8);
    memcpy(&m.batch_number, tail + 59, 8);
    char key[KEY_MAX], err[256] = "";
    int rc = key_expand(template, prefix, sensor, &m, key, sizeof key, err, sizeof err);
    if (rc == 0 && !key_is_safe(key))
        abort();
    if (rc != 0 && err[0] == '\0')
        abort();
    /* a small output buffer must be refused, never overrun */
    char small[8];
    if (key_expand(template, prefix, sensor, &m, small, sizeof small, err, sizeof err) == 0 && !key_is_safe(small))
        abort();
    return 0;
}
