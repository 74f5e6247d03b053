/* libFuzzer: a spool file's name, which the shipper cannot trust, through the name parser (common/flowid.c) and
 * into an object key: the default key template when it parses, the unparsed fallback when it does not. Invariants:
 * a parsed name formats back to exactly itself, and every key that comes out is a safe relative path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shipper/keytemplate.h"

static const char default_template[] = "pcap/{yyyy}/{mm}/{dd}/{hh}/{ts}.{us}_{proto}_{src}_{dst}_{sport}_{dport}.pcap";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[256], key[KEY_MAX], err[256];
    size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
    memcpy(name, data, n);
    name[n] = '\0';
    struct spool_name m;
    if (!spool_name_parse(name, &m)) {
        if (key_for_unparsed("sensor-1/", "sensor-1", name, key, sizeof key) == 0 && !key_is_safe(key))
            abort();
        return 0;
    }
    char again[SPOOL_NAME_MAX];
    if (spool_name_format(&m, again, sizeof again) != 0 || strcmp(again, name) != 0)
        abort();
    if (key_expand(default_template, "sensor-1/", "sensor-1", &m, key, sizeof key, err, sizeof err) == 0 &&
        !key_is_safe(key))
        abort();
    return 0;
}
