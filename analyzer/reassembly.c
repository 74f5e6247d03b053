#include "reassembly.h"

#include <stdlib.h>
#include <string.h>

/* Offset of seq from base modulo 2^32, as a signed distance: correct across wrap-around for any stream shorter
 * than 2 GiB, which the byte cap guarantees. */
static int64_t seq_offset(uint32_t seq, uint32_t base)
{
    return (int64_t)(int32_t)(seq - base);
}

static uint32_t stream_base(const struct segment *segs, size_t n, bool syn_seen, uint32_t syn_seq, size_t max_bytes)
{
    if (syn_seen)
        return syn_seq + 1;
    uint32_t base = segs[0].seq;
    int64_t lowest = 0;
    for (size_t i = 1; i < n; i++) {
        int64_t d = seq_offset(segs[i].seq, segs[0].seq);
        if (d < lowest && -d <= (int64_t)max_bytes)
            lowest = d;
    }
    return base + (uint32_t)lowest;
}

static void note_gap(struct stream *out, uint64_t offset, uint64_t length)
{
    if (out->ngaps < REASSEMBLY_MAX_GAPS_LISTED) {
        out->gaps[out->ngaps].offset = offset;
        out->gaps[out->ngaps].length = length;
    }
    out->ngaps++;
    out->gap_bytes += length;
}

int reassemble_tcp(const struct segment *segs, size_t n, bool syn_seen, uint32_t syn_seq, size_t max_bytes,
                   struct stream *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return 0;
    uint32_t base = stream_base(segs, n, syn_seen, syn_seq, max_bytes);

    uint64_t end = 0; /* highest stream offset covered, before the cap */
    for (size_t i = 0; i < n; i++) {
        int64_t start = seq_offset(segs[i].seq, base);
        int64_t stop = start + segs[i].len;
        if (stop > 0 && (uint64_t)stop > end)
            end = (uint64_t)stop;
    }
    size_t size = end < max_bytes ? (size_t)end : max_bytes;
    out->cut_bytes = end > size ? end - size : 0;
    uint8_t *buf = malloc(size ? size : 1);
    uint8_t *filled = calloc(size ? size : 1, 1);
    if (!buf || !filled) {
        free(buf);
        free(filled);
        return -1;
    }

    uint64_t frontier = 0; /* end of the data seen so far, to tell reordering from in-order arrival */
    for (size_t i = 0; i < n; i++) {
        const struct segment *s = &segs[i];
        int64_t start = seq_offset(s->seq, base);
        uint64_t skip = 0;
        if (start < 0) {
            skip = (uint64_t)-start < s->len ? (uint64_t)-start : s->len;
            out->outside_bytes += skip;
            start = 0;
        }
        if (skip == s->len)
            continue;
        uint64_t from = (uint64_t)start, to = from + (s->len - skip);
        if (to > size)
            to = size;
        if (from >= to)
            continue;
        const uint8_t *src = s->data + skip;
        if (from >= frontier) { /* the common case: beyond everything seen, so every byte is new */
            memcpy(buf + from, src, to - from);
            memset(filled + from, 1, to - from);
            frontier = to;
            continue;
        }
        size_t fresh = 0, old = 0;
        bool conflict = false;
        for (uint64_t at = from; at < to; at++) {
            if (filled[at]) {
                old++;
                conflict |= buf[at] != src[at - from];
            } else {
                buf[at] = src[at - from];
                filled[at] = 1;
                fresh++;
            }
        }
        if (fresh == 0)
            out->retransmissions++;
        else if (old > 0)
            out->overlaps++;
        if (conflict)
            out->overlap_conflicts++;
        if (fresh > 0 && from < frontier)
            out->out_of_order++;
        if (to > frontier)
            frontier = to;
    }

    /* compact: the stream without its holes; each hole becomes a listed gap */
    size_t w = 0;
    for (size_t at = 0; at < size;) {
        if (filled[at]) {
            buf[w++] = buf[at++];
            continue;
        }
        size_t hole = at;
        while (at < size && !filled[at])
            at++;
        note_gap(out, hole, at - hole);
    }
    free(filled);
    out->bytes = buf;
    out->len = w;
    return 0;
}

int reassemble_datagrams(const struct segment *segs, size_t n, size_t max_bytes, struct stream *out)
{
    memset(out, 0, sizeof *out);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += segs[i].len;
    size_t size = total < max_bytes ? total : max_bytes;
    out->cut_bytes = total - size;
    out->bytes = malloc(size ? size : 1);
    if (!out->bytes)
        return -1;
    for (size_t i = 0; i < n && out->len < size; i++) {
        size_t take = segs[i].len < size - out->len ? segs[i].len : size - out->len;
        memcpy(out->bytes + out->len, segs[i].data, take);
        out->len += take;
    }
    return 0;
}

void reassembly_stream_free(struct stream *s)
{
    free(s->bytes);
    s->bytes = NULL;
    s->len = 0;
}
