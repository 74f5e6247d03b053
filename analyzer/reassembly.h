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
    const uint8_t *bytes;    /* len bytes: the stream without its gaps (malloc'd, in a reassembly_scratch, or the
                              * one segment's own bytes) */
    void *allocation;        /* what reassembly_stream_free() frees: bytes, or NULL when they live in a scratch */
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

/* Buffers reused from stream to stream (one per direction), so that rebuilding a flow allocates nothing once they
 * have grown. A stream rebuilt into a scratch points into it, or, when it is one segment from the stream's start,
 * into that segment: valid until the scratch is reused or freed and while the segments' data lives. */
struct reassembly_scratch {
    uint8_t *bytes;
    uint8_t *filled;         /* one flag per stream byte: received */
    size_t size;
};

int reassemble_tcp_scratch(const struct segment *segs, size_t n, bool syn_seen, uint32_t syn_seq, size_t max_bytes,
                           struct reassembly_scratch *scratch, struct stream *out);
int reassemble_datagrams_scratch(const struct segment *segs, size_t n, size_t max_bytes,
                                 struct reassembly_scratch *scratch, struct stream *out);
void reassembly_scratch_free(struct reassembly_scratch *scratch);

void reassembly_stream_free(struct stream *s);

#endif
