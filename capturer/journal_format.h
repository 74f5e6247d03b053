/* The crash journal's on-disk format (spool/.journal/<start_us>-<pid>.jrnl): a segment header, then records back to
 * back. Host byte order: a journal is only ever replayed on the host that wrote it.
 *
 * Segment header (JSEG_HEADER_LEN bytes): magic "LRKJRNL1", version, the libpcap DLT and file linktype and snaplen
 * the packets were captured with, the writer's pid, a random run id (pids are reused; a run id is not), the
 * segment's sequence number within its run and its start time, and a check over all of it.
 *
 * Record (JREC_HEADER_LEN bytes, then `len` bytes): magic, type, len, origlen, flow serial, timestamp, and a check
 * over the header. PACKET: `len` captured bytes of one packet the flow kept. FLOW_DONE: `len` bytes of the flow's
 * spool file name; the flow's pcap is durable (or the flow was counted as dropped), so replay forgets it.
 * The check covers the header only: a kill -9 cuts a journal at a record boundary or inside the last record (the
 * length then runs past the end), and a machine crash leaves zeros or stale blocks (the magic or the check fails);
 * a flipped bit inside a packet's bytes would only change that packet, which decode treats as hostile anyway. */
#ifndef LURKER_CAPTURER_JOURNAL_FORMAT_H
#define LURKER_CAPTURER_JOURNAL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSEG_MAGIC "LRKJRNL1"
#define JSEG_VERSION 1u
#define JSEG_HEADER_LEN 56
#define JREC_MAGIC 0x31524a4cu /* "LJR1" */
#define JREC_HEADER_LEN 36
#define JREC_MAX_CAPLEN 262144u /* the largest snaplen lurker.yaml allows */
#define JREC_MAX_NAME 127u      /* QUEUE_NAME_MAX - 1 */

enum jrec_type { JREC_PACKET = 1, JREC_FLOW_DONE = 2 };

struct jseg_header {
    uint32_t version;
    int32_t dlt;
    uint32_t linktype, snaplen;
    uint32_t pid;
    uint64_t run_id;
    uint64_t seq;
    uint64_t start_us;
};

struct jrec {
    enum jrec_type type;
    uint64_t serial;        /* the flow, unique within its run; never 0 */
    uint64_t ts_us;         /* PACKET: capture time */
    uint32_t origlen;       /* PACKET: length on the wire */
    uint32_t len;           /* bytes at data */
    const uint8_t *data;    /* PACKET: captured bytes; FLOW_DONE: the file name (not NUL-terminated) */
};

enum jrec_result { JREC_OK, JREC_END, JREC_BAD };

void jseg_header_encode(uint8_t out[JSEG_HEADER_LEN], const struct jseg_header *h);
/* false unless buf holds a complete, checked header of a version this build reads. */
bool jseg_header_parse(const uint8_t *buf, size_t len, struct jseg_header *out);

/* Writes a record header for `len` following bytes. */
void jrec_header_encode(uint8_t out[JREC_HEADER_LEN], enum jrec_type type, uint64_t serial, uint64_t ts_us,
                        uint32_t len, uint32_t origlen);
/* Parses the record at buf (len bytes left). JREC_END: no bytes left; JREC_BAD: bad magic, check, type or bounds, or
 * a record cut short (the caller stops reading this segment). On JREC_OK *consumed is the record's size. */
enum jrec_result jrec_parse(const uint8_t *buf, size_t len, struct jrec *out, size_t *consumed);

#endif
