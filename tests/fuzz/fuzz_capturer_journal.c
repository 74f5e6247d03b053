/* libFuzzer: arbitrary bytes as a crash-journal segment (header, then records) through the replay that rebuilds
 * flows at start-up. The journal is read after a crash, so any tail is possible: nothing may crash, leak or read out
 * of bounds, and every flow handed out must be a well-formed set of pcap records. The first input byte picks the
 * link type; the memory limit is small so the early hand-out path runs too. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../capturer/journal_format.h"
#include "../../capturer/replay.h"
#include "pcapfile.h"

static const int dlts[] = {DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_IPV4, DLT_IPV6};

static void check_flow(void *arg, struct flow *f)
{
    (void)arg;
    size_t off = 0;
    uint32_t n = 0;
    while (off < f->records_len) {
        uint32_t caplen;
        if (f->records_len - off < PCAPFILE_RECORD_HEADER_LEN)
            abort();
        memcpy(&caplen, f->records + off + 8, 4);
        off += PCAPFILE_RECORD_HEADER_LEN + caplen;
        n++;
    }
    if (off != f->records_len || n != f->packets || n == 0)
        abort();
    flow_table_release(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static struct prefix local[2];
    static int ready;
    if (!ready) {
        const char *why;
        prefix_parse("203.0.113.0/24", &local[0], &why);
        prefix_parse("2001:db8:5::/64", &local[1], &why);
        ready = 1;
    }
    int dlt = dlts[data[0] % (sizeof dlts / sizeof dlts[0])];
    data++;
    size--;
    struct jseg_header h;
    if (size >= JSEG_HEADER_LEN && jseg_header_parse(data, size, &h)) {
        data += JSEG_HEADER_LEN;
        size -= JSEG_HEADER_LEN;
    }
    struct replay r;
    const struct replay_limits limits = {.memory_limit = 4096, .max_flow_packets = 16, .max_flow_bytes = 2048};
    if (replay_init(&r, local, 2, dlt, &limits, check_flow, NULL) != 0)
        return 0;
    /* the same bytes as two segments of one run, split in the middle: flows continue across segments */
    replay_records(&r, data, size / 2);
    replay_records(&r, data + size / 2, size - size / 2);
    replay_finish(&r);
    replay_destroy(&r);
    return 0;
}
