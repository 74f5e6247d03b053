/* Builds the JSON record of one finished flow (fields documented in analyzer/SCHEMA.md). */
#ifndef ANALYZER_RECORD_H
#define ANALYZER_RECORD_H

#include <jansson.h>
#include <stdbool.h>

#include "analyze.h"
#include "flow.h"
#include "recognise.h"
#include "reassembly.h"

struct record_input {
    const struct flow *flow;
    const struct stream *client;   /* bytes the client sent */
    const struct stream *server;   /* bytes lurker's side sent */
    const struct recognised *seen;
    const struct analyze_source *src;
    bool pcap_truncated;
    size_t max_record_payload;     /* 0: all */
};

/* The payload fields (base64 and readable text of both directions) are kept out of the jansson object: they are
 * most of a record's bytes and are written by record_serialize() directly, escaped for JSON. */
struct record_text {
    const char *key;
    char *value;               /* malloc'd; the JSON string's body, already escaped (base64 or text_readable_json()) */
    size_t len;
};

#define RECORD_TEXTS 4

struct record {
    json_t *fields;
    struct record_text text[RECORD_TEXTS];
    size_t ntext;
    const uint8_t *client_bytes; /* the client's bytes as written into the record (valid during the callback) */
    size_t client_len;
};

/* Returns 0, or -1 when memory ran out. */
int record_build(const struct record_input *in, struct record *out);
void record_free(struct record *r);


/* One JSON object on one line (no newline), malloc'd into *line. Returns 0, or -1 when memory ran out. */
int record_serialize(const struct record *r, char **line, size_t *len);

#endif
