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

/* Highest stream offset any segment reaches, before the cap. */
static uint64_t stream_end(const struct segment *segs, size_t n, uint32_t base)
{
    uint64_t end = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t stop = seq_offset(segs[i].seq, base) + segs[i].len;
        if (stop > 0 && (uint64_t)stop > end)
            end = (uint64_t)stop;
    }
    return end;
}

/* A segment that starts behind the frontier: its bytes are taken where nothing was received yet and compared
 * where something was (first copy wins), run by run rather than byte by byte. */
static void apply_behind(struct stream *out, uint8_t *buf, uint8_t *filled, uint64_t from, uint64_t to,
                         const uint8_t *src, uint64_t *frontier)
{
    size_t fresh = 0, old = 0;
    bool conflict = false;
    uint64_t at = from, known = to < *frontier ? to : *frontier; /* nothing at or past the frontier is filled */
    while (at < known) {
        uint64_t run = at;
        if (filled[at]) {
            const uint8_t *hole = memchr(filled + at, 0, known - at);
            run = hole ? (uint64_t)(hole - filled) : known;
            old += run - at;
            if (!conflict && memcmp(buf + at, src + (at - from), run - at) != 0)
                conflict = true;
        } else {
            while (run < known && !filled[run])
                run++;
            memcpy(buf + at, src + (at - from), run - at);
            memset(filled + at, 1, run - at);
            fresh += run - at;
        }
        at = run;
    }
    if (at < to) { /* past the frontier: all new */
        memcpy(buf + at, src + (at - from), to - at);
        memset(filled + at, 1, to - at);
        fresh += to - at;
    }
    if (fresh == 0)
        out->retransmissions++;
    else if (old > 0)
        out->overlaps++;
    if (conflict)
        out->overlap_conflicts++;
    if (fresh > 0)
        out->out_of_order++;
    if (to > *frontier)
        *frontier = to;
}

/* The stream without its holes; each hole becomes a listed gap. Returns the bytes kept. */
static size_t compact(struct stream *out, uint8_t *buf, const uint8_t *filled, size_t size)
{
    const uint8_t *first_hole = memchr(filled, 0, size);
    if (!first_hole)
        return size;
    size_t w = (size_t)(first_hole - filled);
    for (size_t at = w; at < size;) {
        size_t hole = at;
        while (at < size && !filled[at])
            at++;
        note_gap(out, hole, at - hole);
        const uint8_t *next_hole = at < size ? memchr(filled + at, 0, size - at) : NULL;
        size_t run_end = next_hole ? (size_t)(next_hole - filled) : size;
        memmove(buf + w, buf + at, run_end - at);
        w += run_end - at;
        at = run_end;
    }
    return w;
}

/* Rebuilds into buf and filled (size bytes each, filled all zero). */
static void rebuild_tcp(const struct segment *segs, size_t n, uint32_t base, uint8_t *buf, uint8_t *filled,
                        size_t size, struct stream *out)
{
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
        apply_behind(out, buf, filled, from, to, src, &frontier);
    }
    out->bytes = buf;
    out->len = compact(out, buf, filled, size);
}

static int scratch_reserve(struct reassembly_scratch *sc, size_t size)
{
    if (size <= sc->size && sc->bytes)
        return 0;
    size_t want = sc->size ? sc->size : 4096;
    while (want < size)
        want *= 2;
    uint8_t *bytes = malloc(want), *filled = malloc(want);
    if (!bytes || !filled) {
        free(bytes);
        free(filled);
        return -1;
    }
    free(sc->bytes);
    free(sc->filled);
    sc->bytes = bytes;
    sc->filled = filled;
    sc->size = want;
    return 0;
}

int reassemble_tcp_scratch(const struct segment *segs, size_t n, bool syn_seen, uint32_t syn_seq, size_t max_bytes,
                           struct reassembly_scratch *scratch, struct stream *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return 0;
    uint32_t base = stream_base(segs, n, syn_seen, syn_seq, max_bytes);
    uint64_t end = stream_end(segs, n, base);
    size_t size = end < max_bytes ? (size_t)end : max_bytes;
    out->cut_bytes = end > size ? end - size : 0;
    if (n == 1 && seq_offset(segs[0].seq, base) == 0) { /* the most common stream: the segment is the stream */
        out->bytes = segs[0].data;
        out->len = size;
        return 0;
    }
    if (scratch_reserve(scratch, size ? size : 1) != 0)
        return -1;
    memset(scratch->filled, 0, size);
    rebuild_tcp(segs, n, base, scratch->bytes, scratch->filled, size, out);
    return 0;
}

int reassemble_tcp(const struct segment *segs, size_t n, bool syn_seen, uint32_t syn_seq, size_t max_bytes,
                   struct stream *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return 0;
    uint32_t base = stream_base(segs, n, syn_seen, syn_seq, max_bytes);
    uint64_t end = stream_end(segs, n, base);
    size_t size = end < max_bytes ? (size_t)end : max_bytes;
    out->cut_bytes = end > size ? end - size : 0;
    uint8_t *buf = malloc(size ? size : 1);
    uint8_t *filled = calloc(size ? size : 1, 1);
    if (!buf || !filled) {
        free(buf);
        free(filled);
        return -1;
    }
    rebuild_tcp(segs, n, base, buf, filled, size, out);
    free(filled);
    out->allocation = buf;
    return 0;
}

static size_t datagrams_total(const struct segment *segs, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += segs[i].len;
    return total;
}

static void concatenate(const struct segment *segs, size_t n, uint8_t *bytes, size_t size, struct stream *out)
{
    out->bytes = bytes;
    for (size_t i = 0; i < n && out->len < size; i++) {
        size_t take = segs[i].len < size - out->len ? segs[i].len : size - out->len;
        memcpy(bytes + out->len, segs[i].data, take);
        out->len += take;
    }
}

int reassemble_datagrams(const struct segment *segs, size_t n, size_t max_bytes, struct stream *out)
{
    memset(out, 0, sizeof *out);
    size_t total = datagrams_total(segs, n);
    size_t size = total < max_bytes ? total : max_bytes;
    out->cut_bytes = total - size;
    uint8_t *bytes = malloc(size ? size : 1);
    if (!bytes)
        return -1;
    concatenate(segs, n, bytes, size, out);
    out->allocation = bytes;
    return 0;
}

int reassemble_datagrams_scratch(const struct segment *segs, size_t n, size_t max_bytes,
                                 struct reassembly_scratch *scratch, struct stream *out)
{
    memset(out, 0, sizeof *out);
    size_t total = datagrams_total(segs, n);
    size_t size = total < max_bytes ? total : max_bytes;
    out->cut_bytes = total - size;
    if (n == 1) { /* one datagram: no copy */
        out->bytes = segs[0].data;
        out->len = size;
        return 0;
    }
    if (scratch_reserve(scratch, size ? size : 1) != 0)
        return -1;
    concatenate(segs, n, scratch->bytes, size, out);
    return 0;
}

void reassembly_scratch_free(struct reassembly_scratch *scratch)
{
    free(scratch->bytes);
    free(scratch->filled);
    memset(scratch, 0, sizeof *scratch);
}

void reassembly_stream_free(struct stream *s)
{
    free(s->allocation);
    s->allocation = NULL;
    s->bytes = NULL;
    s->len = 0;
}
