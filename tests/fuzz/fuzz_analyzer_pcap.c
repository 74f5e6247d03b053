/* libFuzzer: a whole pcap through the analyzer (reader, decoder, flows, reassembly, recognisers, JSON). Every record
 * must serialise to JSON that parses back (so it is valid UTF-8). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../analyzer/analyze.h"
#include "../../analyzer/record.h"

static int check_record(const struct record *record, void *arg)
{
    (void)arg;
    json_t *back = record_fields(record); /* the line, parsed back */
    if (!back)
        abort();
    json_decref(back);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct analyze_options opt = { .max_payload = 4096, .max_record_payload = 0 };
    struct analyze_source src = { .s3path = "s3://fuzz/\xff.pcap", .sensor = "fuzz" };
    struct analyze_stats stats;
    analyze_pcap(data, size, &opt, &src, check_record, NULL, &stats);
    return 0;
}
