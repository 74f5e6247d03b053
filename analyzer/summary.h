/* --summary: what the original answered with Logs Insights queries, as tables over a set of pcaps:
 * the most recent flows that carried a payload, and flow counts by destination port, by source and by service. */
#ifndef ANALYZER_SUMMARY_H
#define ANALYZER_SUMMARY_H

#include <jansson.h>
#include <stdio.h>

#define SUMMARY_ROWS 20

struct summary;

struct summary *summary_new(void);
void summary_free(struct summary *s);
struct record;

/* Takes what it needs from one record. Returns 0, -1 when out of memory. */
int summary_add(struct summary *s, const struct record *record);
void summary_print(const struct summary *s, FILE *out);

#endif
