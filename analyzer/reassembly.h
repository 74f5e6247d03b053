/* One direction of a TCP stream rebuilt from its segments' sequence numbers.
 *
 * Policy (documented in SCHEMA.md): offsets are relative to the SYN's sequence number + 1, or, without a SYN, to the
 * lowest sequence number seen (within the byte cap). Sequence numbers are compared modulo 2^32, so a stream that
 * wraps past 0xffffffff stays in order. Segments are applied in the order they were captured and the FIRST copy of a
 * byte wins (the "first" policy of Snort/Suricata); a segment that adds no new byte is a retransmission, one that
 * adds some is counted as an overlap, and one whose overlapping bytes differ is also an overlap conflict. Missing
 * ranges are gaps: they are listed, never filled with zeros, and the bytes after a gap follow directly. Bytes beyond
 * max_bytes are cut and counted. */
#ifndef ANALYZER_REASSEMBLY_H
#define ANALYZER_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REASSEMBLY_MAX_GAPS_LISTED 16

struct segment {
    uint32_t seq;            /* sequence number of data[0] */
    uint32_t len;
    const uint8_t *data;
};

struct gap {
    uint64_t offset;         /* stream offset of the first missing byte */
    uint64_t length;
};

struct stream {
    uint8_t *bytes;          /* malloc'd, len bytes: the stream without its gaps */
    size_t len;
    uint64_t retransmissions;
    uint64_t overlaps;
    uint64_t overlap_conflicts;
    uint64_t out_of_order;   /* segments that filled a hole behind data already seen */
    uint64_t ngaps;
    uint64_t gap_bytes;
    struct gap gaps[REASSEMBLY_MAX_GAPS_LISTED];
    uint64_t cut_bytes;      /* beyond max_bytes */
    uint64_t outside_bytes;  /* before the stream's start (e.g. data below the SYN) */
};

/* Rebuilds one direction. Returns 0, or -1 when memory runs out (out is then empty). */
int reassemble_tcp(const struct segment *segs, size_t n, bool syn_seen, uint32_t syn_seq, size_t max_bytes,
                   struct stream *out);

/* Datagrams in capture order, concatenated, cut at max_bytes. */
int reassemble_datagrams(const struct segment *segs, size_t n, size_t max_bytes, struct stream *out);

void reassembly_stream_free(struct stream *s);

#endif
