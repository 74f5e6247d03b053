/* One pcap (in memory) in, one JSON record per flow out, in order of each flow's first packet. */
#ifndef ANALYZER_ANALYZE_H
#define ANALYZER_ANALYZE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define ANALYZER_SCHEMA_VERSION 1
#define ANALYZER_DEFAULT_MAX_PAYLOAD (1024u * 1024u)

struct analyze_options {
    size_t max_payload;        /* bytes kept per direction when reassembling */
    size_t max_record_payload; /* bytes of each direction written into a record (0: all that was kept) */
    /* The sensor's monitored prefixes (--local, LURKER_LOCAL), or none. Given, a flow between a local and a remote
     * endpoint is oriented from the remote side (src_* is the outsider) and says who sent its first packet
     * (started_by); not given, the handshake decides as before (SCHEMA.md). */
    const struct prefix *local;
    size_t nlocal;
    /* Non-zero once the input lost bytes while being analysed (mapped_file.h); NULL: it cannot. Records rebuilt
     * from then on say truncated ("pcap"). */
    const volatile sig_atomic_t *input_shrank;
};

struct analyze_source {
    const char *s3path;        /* "s3://bucket/key" or the local path; NULL for stdin */
    const char *sensor;        /* NULL when unknown */
};

struct analyze_stats {
    uint64_t packets;
    uint64_t undecodable;      /* not IP, malformed headers, unsupported protocols */
    uint64_t fragments;        /* IP fragments (not reassembled) */
    uint64_t flows;
    bool truncated;            /* the file ended early or was corrupt part-way */
    char error[192];           /* why, when truncated or not a pcap */
};

struct record;

/* Called once per flow; the record is borrowed (analyze_pcap frees it). Non-zero stops the run. */
typedef int (*record_fn)(const struct record *record, void *arg);

/* Returns 0 when the buffer was a pcap (possibly truncated: see stats), -1 when it was not (stats->error). */
int analyze_pcap(const uint8_t *data, size_t len, const struct analyze_options *opt, const struct analyze_source *src,
                 record_fn fn, void *arg, struct analyze_stats *stats);

#endif
