#include "journal_format.h"

#include <string.h>

/* FNV-1a, 32 bits: enough to tell a header from zeros or stale bytes; it is not a defence against an adversary
 * (only the capturer writes here). */
static uint32_t check32(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* putN/getN: an N-bit field in host byte order at any alignment. */
#define FIELD_ACCESS(bits)                                                                                         \
    static void put##bits(uint8_t *p, uint##bits##_t v) { memcpy(p, &v, sizeof v); }                              \
    static uint##bits##_t get##bits(const uint8_t *p)                                                              \
    {                                                                                                              \
        uint##bits##_t v;                                                                                          \
        memcpy(&v, p, sizeof v);                                                                                   \
        return v;                                                                                                  \
    }
FIELD_ACCESS(16)
FIELD_ACCESS(32)
FIELD_ACCESS(64)

/* Segment header offsets; the check covers everything before it. */
enum {
    SH_MAGIC = 0,
    SH_VERSION = 8,
    SH_DLT = 12,
    SH_LINKTYPE = 16,
    SH_SNAPLEN = 20,
    SH_PID = 24,
    SH_RUN = 28,
    SH_SEQ = 36,
    SH_START = 44,
    SH_CHECK = 52,
};

void jseg_header_encode(uint8_t out[JSEG_HEADER_LEN], const struct jseg_header *h)
{
    memset(out, 0, JSEG_HEADER_LEN);
    memcpy(out + SH_MAGIC, JSEG_MAGIC, 8);
    put32(out + SH_VERSION, h->version);
    put32(out + SH_DLT, (uint32_t)h->dlt);
    put32(out + SH_LINKTYPE, h->linktype);
    put32(out + SH_SNAPLEN, h->snaplen);
    put32(out + SH_PID, h->pid);
    put64(out + SH_RUN, h->run_id);
    put64(out + SH_SEQ, h->seq);
    put64(out + SH_START, h->start_us);
    put32(out + SH_CHECK, check32(out, SH_CHECK));
}

bool jseg_header_parse(const uint8_t *buf, size_t len, struct jseg_header *out)
{
    if (len < JSEG_HEADER_LEN || memcmp(buf + SH_MAGIC, JSEG_MAGIC, 8) != 0 ||
        get32(buf + SH_CHECK) != check32(buf, SH_CHECK))
        return false;
    out->version = get32(buf + SH_VERSION);
    out->dlt = (int32_t)get32(buf + SH_DLT);
    out->linktype = get32(buf + SH_LINKTYPE);
    out->snaplen = get32(buf + SH_SNAPLEN);
    out->pid = get32(buf + SH_PID);
    out->run_id = get64(buf + SH_RUN);
    out->seq = get64(buf + SH_SEQ);
    out->start_us = get64(buf + SH_START);
    return out->version == JSEG_VERSION && out->snaplen >= 1 && out->snaplen <= JREC_MAX_CAPLEN;
}

/* Record header: magic 0, type 4, reserved 6, len 8, origlen 12, serial 16, ts_us 24, check 32. */
enum { RH_MAGIC = 0, RH_TYPE = 4, RH_RESERVED = 6, RH_LEN = 8, RH_ORIGLEN = 12, RH_SERIAL = 16, RH_TS = 24, RH_CHECK = 32 };

void jrec_header_encode(uint8_t out[JREC_HEADER_LEN], enum jrec_type type, uint64_t serial, uint64_t ts_us,
                        uint32_t len, uint32_t origlen)
{
    put32(out + RH_MAGIC, JREC_MAGIC);
    put16(out + RH_TYPE, (uint16_t)type);
    put16(out + RH_RESERVED, 0);
    put32(out + RH_LEN, len);
    put32(out + RH_ORIGLEN, origlen);
    put64(out + RH_SERIAL, serial);
    put64(out + RH_TS, ts_us);
    put32(out + RH_CHECK, check32(out, RH_CHECK));
}

enum jrec_result jrec_parse(const uint8_t *buf, size_t len, struct jrec *out, size_t *consumed)
{
    if (len == 0)
        return JREC_END;
    if (len < JREC_HEADER_LEN || get32(buf + RH_MAGIC) != JREC_MAGIC || get16(buf + RH_RESERVED) != 0 ||
        get32(buf + RH_CHECK) != check32(buf, RH_CHECK))
        return JREC_BAD;
    uint16_t type = get16(buf + RH_TYPE);
    uint32_t n = get32(buf + RH_LEN);
    out->serial = get64(buf + RH_SERIAL);
    out->ts_us = get64(buf + RH_TS);
    out->origlen = get32(buf + RH_ORIGLEN);
    out->len = n;
    if (out->serial == 0)
        return JREC_BAD;
    if (type == JREC_PACKET) {
        if (n > JREC_MAX_CAPLEN || n > out->origlen)
            return JREC_BAD;
    } else if (type == JREC_FLOW_DONE) {
        if (n == 0 || n > JREC_MAX_NAME)
            return JREC_BAD;
    } else {
        return JREC_BAD;
    }
    if ((size_t)n > len - JREC_HEADER_LEN)
        return JREC_BAD; /* cut short: the tail of a killed writer */
    out->type = (enum jrec_type)type;
    out->data = buf + JREC_HEADER_LEN;
    *consumed = JREC_HEADER_LEN + (size_t)n;
    return JREC_OK;
}
