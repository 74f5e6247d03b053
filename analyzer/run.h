/* A run over many pcaps: analyses each, writes its records (JSON lines on stdout, or into the summary), reports
 * per-input errors on stderr, and shows a progress line when stderr is a terminal and the run is long. */
#ifndef ANALYZER_RUN_H
#define ANALYZER_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analyze.h"
#include "record.h"
#include "report.h"
#include "summary.h"

struct run {
    struct analyze_options analyze;
    const char *sensor;          /* --sensor; NULL: from each path */
    struct summary *summary;     /* NULL: JSON lines to out */
    struct report *report;       /* --report: records go here instead (before the summary and out) */
    FILE *out;
    struct record_buffer pending; /* lines not yet handed to out: written in large chunks, and at each pcap's end */
    bool progress;               /* stderr is a terminal */
    double started, last_progress;
    uint64_t inputs, failed, flows, bytes;
    char last_error[256];        /* why the last failed input failed */
};

void analysis_run_init(struct run *r, FILE *out);

/* name: shown in messages and written as s3path (NULL for stdin); key_start: where the S3 key begins inside name
 * (for the sensor heuristics), or -1 for a local path. Returns 0, or 1 when the input failed or was truncated. */
int analysis_run_pcap(struct run *r, const char *name, int key_start, const uint8_t *data, size_t len);

/* Clears the progress line, if one was drawn, and frees what the run kept. */
void analysis_run_finish(struct run *r);

#endif
