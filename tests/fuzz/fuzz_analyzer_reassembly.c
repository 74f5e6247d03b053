/* libFuzzer: TCP reassembly on arbitrary segments. Input: repeated [seq:4][len:1] headers, each followed by len
 * bytes. The rebuilt stream may never be longer than the cap, and gaps plus bytes never exceed the stream's span. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../analyzer/reassembly.h"

#define MAX_SEGMENTS 256
#define CAP 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct segment segs[MAX_SEGMENTS];
    size_t n = 0, at = 0;
    bool syn = size > 0 && (data[0] & 1);
    uint32_t isn = 0;
    if (size >= 5) {
        memcpy(&isn, data + 1, 4);
        at = 5;
    }
    while (n < MAX_SEGMENTS && size - at >= 5) {
        uint32_t seq;
        memcpy(&seq, data + at, 4);
        size_t len = data[at + 4];
        at += 5;
        if (len > size - at)
            len = size - at;
        segs[n++] = (struct segment){ .seq = seq, .len = (uint32_t)len, .data = data + at };
        at += len;
    }
    struct stream s;
    if (reassemble_tcp(segs, n, syn, isn, CAP, &s) == 0) {
        if (s.len > CAP)
            abort();
        reassembly_stream_free(&s);
    }
    if (reassemble_datagrams(segs, n, CAP, &s) == 0) {
        if (s.len > CAP)
            abort();
        reassembly_stream_free(&s);
    }
    return 0;
}
