/* libFuzzer: the report's JSON-lines reader (analyzer/report.c, `--report` over records read back) and the HTML it
 * writes from whatever it accepted. Invariants: bad lines are counted, never fatal; the page is written whole. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../analyzer/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct report *r = report_new();
    if (!r)
        return 0;
    size_t bad = report_add_json_lines(r, "fuzz.jsonl", data, size);
    (void)bad;
    char *page = NULL;
    size_t page_len = 0;
    FILE *out = open_memstream(&page, &page_len);
    if (out) {
        if (report_write(r, out, 1) != 0)
            abort();
        fclose(out);
    }
    free(page);
    report_free(r);
    return 0;
}
