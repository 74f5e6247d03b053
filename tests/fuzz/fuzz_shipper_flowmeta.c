/* libFuzzer: the shipper's flow metadata from what it cannot trust, a spool file's name and a pcap's first bytes
 * (shipper/flowmeta.c), each then expanded through the default key template. Invariants: a parsed name's
 * addresses are key-safe, and every key that expands is a safe relative path (key_is_safe). The first input byte
 * picks name or pcap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../shipper/flowmeta.h"
#include "../../shipper/keytemplate.h"

static const char default_template[] = "pcap/{yyyy}/{mm}/{dd}/{hh}/{ts}_{src}_{dst}_{sport}_{dport}.pcap";

static void expand_checked(const struct flow_meta *m)
{
    char key[KEY_MAX], err[256];
    if (key_expand(default_template, "sensor-1/", "sensor-1", m, key, sizeof key, err, sizeof err) == 0 &&
        !key_is_safe(key))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct flow_meta m;
    memset(&m, 0, sizeof m);
    if (data[0] & 1) {
        char name[256];
        size_t n = size - 1 < sizeof name - 1 ? size - 1 : sizeof name - 1;
        memcpy(name, data + 1, n);
        name[n] = '\0';
        if (flow_meta_from_name(name, &m) != 0)
            return 0;
        if (!m.batch && (memchr(m.src, '\0', sizeof m.src) == NULL || memchr(m.dst, '\0', sizeof m.dst) == NULL))
            abort();
    } else if (flow_meta_from_pcap(data + 1, size - 1, &m) != 0) {
        return 0;
    }
    expand_checked(&m);
    return 0;
}
