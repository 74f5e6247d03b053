/* The record of one finished flow (fields documented in analyzer/SCHEMA.md), written once: as one JSON line straight
 * into a reusable buffer. Callers that read fields parse that line back (record_fields). */
#ifndef ANALYZER_RECORD_H
#define ANALYZER_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "analyze.h"
#include "flow.h"
#include "recognise.h"
#include "reassembly.h"

/* A growing output buffer, reused from record to record so that writing a record allocates nothing once it is big
 * enough. */
struct record_buffer {
    char *s;
    size_t len, size;
    bool oom;
};

void record_buffer_free(struct record_buffer *b);

enum started_by {
    STARTED_BY_UNKNOWN,  /* the sensor's addresses were not given: no "started_by" member */
    STARTED_BY_OUTSIDER, /* the flow's first packet came from the remote side */
    STARTED_BY_SENSOR,   /* ... from the sensor: a flow the sensor host started (lurker no longer records those) */
};

struct record_input {
    const struct flow *flow;
    enum started_by started_by;
    const struct stream *client;   /* bytes the client sent */
    const struct stream *server;   /* bytes lurker's side sent */
    const struct recognised *seen;
    const struct analyze_source *src;
    bool pcap_truncated;
    size_t max_record_payload;     /* 0: all */
    /* src's "sensor" and "s3path" members already written as JSON (record_source_json()), the same for every flow
     * of a pcap; NULL: written from src for each record */
    const char *source_json;
    size_t source_json_len;
};

/* Writes `"sensor":...,"s3path":...` for src into b (appended). Names are kept as they are when they are valid UTF-8
 * (checked by jansson), else as printable ASCII. */
void record_source_json(const struct analyze_source *src, struct record_buffer *b);

struct record {
    const uint8_t *client_bytes; /* the client's bytes as written into the record (valid during the callback) */
    size_t client_len;
    const struct record_input *input; /* borrowed: valid during the callback */
    struct record_buffer *buffer;     /* where record_json_line() writes */
};

/* Prepares the record for writing into buffer (reused across records). in and buffer must outlive out. */
void record_prepare(const struct record_input *in, struct record_buffer *buffer, struct record *out);

/* One JSON object followed by a newline, written into the record's buffer and valid until the next record: no
 * allocation once the buffer has grown. Returns 0, or -1 when memory ran out. */
int record_json_line(const struct record *r, const char **line, size_t *len);

/* The same line appended to out (left as it was when memory ran out). Returns 0, or -1 when memory ran out. */
int record_append_line(const struct record *r, struct record_buffer *out);

/* The record's members read back from its line, for callers that read fields (the summary, the report): a new
 * reference, or NULL when memory ran out. Overwrites the record's buffer. */
json_t *record_fields(const struct record *r);

#endif
