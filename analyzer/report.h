/* --report: one self-contained HTML page over many flows (no scripts, no fetches: inline CSS and SVG drawn here):
 * flows over time, top destination ports and sources, services, handshake outcomes, and the latest payloads.
 * Only aggregates and a few recent payloads are kept, so memory grows with distinct sources, not with flows. */
#ifndef ANALYZER_REPORT_H
#define ANALYZER_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REPORT_TOP_ROWS 15
#define REPORT_RECENT_PAYLOADS 25
#define REPORT_EXCERPT 1024      /* bytes of each recent payload shown */
#define REPORT_MAX_SOURCES (1u << 20)

struct report;
struct record;

struct report *report_new(void);
void report_free(struct report *r);

/* A record straight from the analysis (its client bytes included). Returns 0, -1 when out of memory. */
int report_add(struct report *r, const struct record *record);

/* A record read back from JSON lines (the payload shown is its `readable` field). Returns 0, -1 on bad input. */
int report_add_json(struct report *r, const json_t *rec);

/* A buffer of JSON lines: every line must be a record object; bad lines are counted and reported on stderr.
 * Returns the number of bad lines. */
size_t report_add_json_lines(struct report *r, const char *name, const uint8_t *data, size_t len);

/* Flows counted so far. */
uint64_t report_flows(const struct report *r);

/* inputs: how many files fed the report (shown in the footer). Returns 0, -1 when writing failed. */
int report_write(const struct report *r, FILE *out, size_t inputs);

#endif
