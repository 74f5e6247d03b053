#include "pcapfile.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

void pcapfile_global_header(uint8_t out[PCAPFILE_GLOBAL_HEADER_LEN], uint32_t linktype, uint32_t snaplen)
{
    uint32_t magic = PCAPFILE_MAGIC_US;
    uint16_t major = 2, minor = 4;
    int32_t thiszone = 0;
    uint32_t sigfigs = 0;
    memcpy(out, &magic, 4);
    memcpy(out + 4, &major, 2);
    memcpy(out + 6, &minor, 2);
    memcpy(out + 8, &thiszone, 4);
    memcpy(out + 12, &sigfigs, 4);
    memcpy(out + 16, &snaplen, 4);
    memcpy(out + 20, &linktype, 4);
}

void pcapfile_record_header(uint8_t out[PCAPFILE_RECORD_HEADER_LEN], uint64_t ts_us, uint32_t caplen, uint32_t len)
{
    uint32_t sec = (uint32_t)(ts_us / 1000000u), usec = (uint32_t)(ts_us % 1000000u);
    memcpy(out, &sec, 4);
    memcpy(out + 4, &usec, 4);
    memcpy(out + 8, &caplen, 4);
    memcpy(out + 12, &len, 4);
}

uint32_t pcapfile_linktype_from_dlt(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
        return PCAPFILE_LINKTYPE_ETHERNET;
    case DLT_RAW:
        return PCAPFILE_LINKTYPE_RAW;
    case DLT_LINUX_SLL:
        return PCAPFILE_LINKTYPE_LINUX_SLL;
    default:
        return (uint32_t)dlt; /* the remaining DLT_* values equal their LINKTYPE_* */
    }
}

int pcapfile_write_fd(int fd, uint32_t linktype, uint32_t snaplen, const uint8_t *records, size_t records_len)
{
    uint8_t header[PCAPFILE_GLOBAL_HEADER_LEN];
    pcapfile_global_header(header, linktype, snaplen);
    struct iovec iov[2] = {{header, sizeof header}, {(void *)records, records_len}};
    int first = 0;
    while (first < 2) {
        ssize_t n = writev(fd, iov + first, 2 - first);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        size_t left = (size_t)n;
        while (first < 2 && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            first++;
        }
        if (first < 2) {
            iov[first].iov_base = (uint8_t *)iov[first].iov_base + left;
            iov[first].iov_len -= left;
        }
    }
    return 0;
}

/* ---- the reader ---- */


#define PCAP_MAGIC_USEC 0xa1b2c3d4u
#define PCAP_MAGIC_NSEC 0xa1b23c4du
#define PCAPNG_SHB 0x0a0d0d0au
#define PCAPNG_BYTE_ORDER_MAGIC 0x1a2b3c4du
#define PCAPNG_IDB 1u
#define PCAPNG_SPB 3u
#define PCAPNG_EPB 6u
#define PCAPNG_MAX_BLOCK (16u * 1024 * 1024)

static uint32_t read32(const struct pcapfile_reader *r, size_t at)
{
    uint32_t v;
    memcpy(&v, r->data + at, 4);
    return r->swapped ? __builtin_bswap32(v) : v;
}

static uint16_t read16(const struct pcapfile_reader *r, size_t at)
{
    uint16_t v;
    memcpy(&v, r->data + at, 2);
    return r->swapped ? __builtin_bswap16(v) : v;
}

static int stop(struct pcapfile_reader *r, const char *what)
{
    r->truncated = true;
    snprintf(r->error, sizeof r->error, "%s at offset %zu", what, r->pos);
    r->pos = r->len;
    return 0;
}

static int open_classic(struct pcapfile_reader *r, uint32_t magic)
{
    r->swapped = magic == __builtin_bswap32(PCAP_MAGIC_USEC) || magic == __builtin_bswap32(PCAP_MAGIC_NSEC);
    uint32_t native = r->swapped ? __builtin_bswap32(magic) : magic;
    r->nanosecond = native == PCAP_MAGIC_NSEC;
    if (r->len < 24) {
        snprintf(r->error, sizeof r->error, "pcap file header truncated (%zu of 24 bytes)", r->len);
        return -1;
    }
    r->linktype = read32(r, 20) & 0x0fffffffu; /* upper bits carry FCS information */
    r->pos = 24;
    return 0;
}

/* Reads the if_tsresol option of an Interface Description Block; default microseconds. */
static uint64_t idb_ticks_per_sec(const struct pcapfile_reader *r, size_t opts, size_t end)
{
    while (opts + 4 <= end) {
        uint16_t code = read16(r, opts), olen = read16(r, opts + 2);
        size_t padded = ((size_t)olen + 3) & ~(size_t)3;
        if (code == 0 || opts + 4 + padded > end)
            break;
        if (code == 9 && olen >= 1) {
            uint8_t res = r->data[opts + 4];
            uint64_t ticks = 1;
            unsigned exp = res & 0x7f;
            if (exp > 19)
                return 1000000;
            for (unsigned i = 0; i < exp; i++)
                ticks *= (res & 0x80) ? 2 : 10;
            return ticks ? ticks : 1000000;
        }
        opts += 4 + padded;
    }
    return 1000000;
}

static int open_pcapng(struct pcapfile_reader *r)
{
    r->pcapng = true;
    if (r->len < 28) {
        snprintf(r->error, sizeof r->error, "pcapng section header truncated");
        return -1;
    }
    uint32_t bom;
    memcpy(&bom, r->data + 8, 4);
    if (bom == PCAPNG_BYTE_ORDER_MAGIC)
        r->swapped = false;
    else if (bom == __builtin_bswap32(PCAPNG_BYTE_ORDER_MAGIC))
        r->swapped = true;
    else {
        snprintf(r->error, sizeof r->error, "pcapng byte-order magic not recognised");
        return -1;
    }
    r->pos = 0;
    return 0;
}

int pcapfile_reader_open(struct pcapfile_reader *r, const uint8_t *data, size_t len)
{
    memset(r, 0, sizeof *r);
    r->data = data;
    r->len = len;
    if (len < 4) {
        snprintf(r->error, sizeof r->error, "not a pcap file (%zu bytes)", len);
        return -1;
    }
    uint32_t magic;
    memcpy(&magic, data, 4);
    if (magic == PCAP_MAGIC_USEC || magic == PCAP_MAGIC_NSEC || magic == __builtin_bswap32(PCAP_MAGIC_USEC) ||
        magic == __builtin_bswap32(PCAP_MAGIC_NSEC))
        return open_classic(r, magic);
    if (magic == PCAPNG_SHB)
        return open_pcapng(r);
    snprintf(r->error, sizeof r->error, "not a pcap file (magic 0x%08x)", magic);
    return -1;
}

static int next_classic(struct pcapfile_reader *r, struct pcapfile_packet *p)
{
    if (r->pos == r->len)
        return 0;
    if (r->len - r->pos < 16)
        return stop(r, "packet header truncated");
    uint32_t sec = read32(r, r->pos), frac = read32(r, r->pos + 4);
    uint32_t caplen = read32(r, r->pos + 8), origlen = read32(r, r->pos + 12);
    if (caplen > PCAPFILE_MAX_CAPLEN)
        return stop(r, "corrupt packet header (caplen too large)");
    if (frac >= (r->nanosecond ? 1000000000u : 1000000u))
        return stop(r, "corrupt packet header (fraction of a second out of range)");
    if (r->len - r->pos - 16 < caplen)
        return stop(r, "packet data truncated");
    p->ts_sec = sec;
    p->ts_nsec = r->nanosecond ? frac : frac * 1000u;
    p->linktype = r->linktype;
    p->caplen = caplen;
    p->origlen = origlen < caplen ? caplen : origlen;
    p->data = r->data + r->pos + 16;
    r->pos += 16 + (size_t)caplen;
    return 1;
}

static void set_timestamp(const struct pcapfile_reader *r, uint32_t iface, uint64_t ticks, struct pcapfile_packet *p)
{
    uint64_t per_sec = r->if_ticks_per_sec[iface];
    p->ts_sec = ticks / per_sec;
    /* rem < per_sec <= 10^19: scaled in 128 bits, exact for binary resolutions too */
    p->ts_nsec = (uint32_t)((unsigned __int128)(ticks % per_sec) * 1000000000u / per_sec);
}

static int next_pcapng(struct pcapfile_reader *r, struct pcapfile_packet *p)
{
    for (;;) {
        if (r->pos == r->len)
            return 0;
        if (r->len - r->pos < 12)
            return stop(r, "pcapng block header truncated");
        uint32_t type, blen;
        memcpy(&type, r->data + r->pos, 4);
        if (type == PCAPNG_SHB) { /* a new section may switch byte order */
            if (r->len - r->pos < 28)
                return stop(r, "pcapng section header truncated");
            uint32_t bom;
            memcpy(&bom, r->data + r->pos + 8, 4);
            if (bom != PCAPNG_BYTE_ORDER_MAGIC && bom != __builtin_bswap32(PCAPNG_BYTE_ORDER_MAGIC))
                return stop(r, "corrupt pcapng section header");
            r->swapped = bom != PCAPNG_BYTE_ORDER_MAGIC;
            r->ninterfaces = 0;
        }
        type = read32(r, r->pos);
        blen = read32(r, r->pos + 4);
        if (blen < 12 || blen % 4 != 0 || blen > PCAPNG_MAX_BLOCK)
            return stop(r, "corrupt pcapng block length");
        if (r->len - r->pos < blen)
            return stop(r, "pcapng block truncated");
        size_t body = r->pos + 8, end = r->pos + blen - 4;
        r->pos += blen;
        if (type == PCAPNG_IDB) {
            if (end - body < 8)
                return stop(r, "corrupt pcapng interface block");
            if (r->ninterfaces < PCAPFILE_MAX_INTERFACES) {
                r->if_linktype[r->ninterfaces] = read16(r, body);
                r->if_ticks_per_sec[r->ninterfaces] = idb_ticks_per_sec(r, body + 8, end);
                r->ninterfaces++;
            }
        } else if (type == PCAPNG_EPB) {
            if (end - body < 20)
                return stop(r, "corrupt pcapng packet block");
            uint32_t iface = read32(r, body);
            uint64_t ticks = ((uint64_t)read32(r, body + 4) << 32) | read32(r, body + 8);
            uint32_t caplen = read32(r, body + 12), origlen = read32(r, body + 16);
            if (iface >= r->ninterfaces)
                return stop(r, "pcapng packet for an undeclared interface");
            if (caplen > PCAPFILE_MAX_CAPLEN || caplen > end - body - 20)
                return stop(r, "corrupt pcapng packet length");
            set_timestamp(r, iface, ticks, p);
            p->linktype = r->if_linktype[iface];
            p->caplen = caplen;
            p->origlen = origlen < caplen ? caplen : origlen;
            p->data = r->data + body + 20;
            return 1;
        } else if (type == PCAPNG_SPB) {
            if (end - body < 4 || r->ninterfaces == 0)
                return stop(r, "corrupt pcapng simple packet block");
            uint32_t origlen = read32(r, body);
            uint32_t caplen = (uint32_t)(end - body - 4);
            if (origlen < caplen)
                caplen = origlen;
            p->ts_sec = 0;
            p->ts_nsec = 0;
            p->linktype = r->if_linktype[0];
            p->caplen = caplen;
            p->origlen = origlen;
            p->data = r->data + body + 4;
            return 1;
        }
        /* other blocks (the obsolete packet block, statistics, name resolution, custom) are skipped */
    }
}

int pcapfile_reader_next(struct pcapfile_reader *r, struct pcapfile_packet *p)
{
    return r->pcapng ? next_pcapng(r, p) : next_classic(r, p);
}
