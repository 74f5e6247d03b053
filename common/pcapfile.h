/* pcap files. Written: classic pcap (the libpcap 2.4 format every tool reads): a 24-byte global header, then one
 * 16-byte record header per packet followed by its captured bytes; microsecond timestamps, host byte order. Only
 * building blocks: callers keep records in their own buffers and write them as they see fit.
 * Read: classic pcap (either byte order, micro- or nanosecond magic) and pcapng (sections of either byte order,
 * per-interface link type and timestamp resolution) over a buffer in memory. Every length is checked against the
 * buffer: a record that runs past the end marks the file truncated, a length no writer would produce marks it
 * corrupt; either way the packets before it are still delivered. */
#ifndef LURKER_PCAPFILE_H
#define LURKER_PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCAPFILE_MAGIC_US 0xa1b2c3d4u
#define PCAPFILE_GLOBAL_HEADER_LEN 24
#define PCAPFILE_RECORD_HEADER_LEN 16

/* Link types as written in files (LINKTYPE_*, which differ from some platforms' DLT_* values). */
#define PCAPFILE_LINKTYPE_ETHERNET 1
#define PCAPFILE_LINKTYPE_RAW 101
#define PCAPFILE_LINKTYPE_LINUX_SLL 113

void pcapfile_global_header(uint8_t out[PCAPFILE_GLOBAL_HEADER_LEN], uint32_t linktype, uint32_t snaplen);
/* ts_us: microseconds since the epoch. caplen <= len. */
void pcapfile_record_header(uint8_t out[PCAPFILE_RECORD_HEADER_LEN], uint64_t ts_us, uint32_t caplen, uint32_t len);

/* The LINKTYPE_* value a file must carry for a libpcap DLT_* value (they differ for DLT_RAW on Linux). */
uint32_t pcapfile_linktype_from_dlt(int dlt);

/* Writes a whole pcap file to fd: global header, then `records` (already laid out as record headers + bytes).
 * Retries short writes and EINTR. Returns 0, or -1 with errno set. */
int pcapfile_write_fd(int fd, uint32_t linktype, uint32_t snaplen, const uint8_t *records, size_t records_len);

#define PCAPFILE_MAX_CAPLEN 262144u   /* larger records are corrupt (libpcap's own MAXIMUM_SNAPLEN) */
#define PCAPFILE_MAX_INTERFACES 64   /* pcapng interfaces of a section beyond these are ignored */

struct pcapfile_packet {
    uint64_t ts_sec;
    uint32_t ts_nsec;
    uint32_t linktype;
    uint32_t caplen;
    uint32_t origlen;          /* >= caplen */
    const uint8_t *data;       /* caplen bytes inside the reader's buffer */
};

struct pcapfile_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool pcapng;
    bool swapped;            /* file byte order differs from ours */
    bool nanosecond;         /* classic pcap: nanosecond magic */
    uint32_t linktype;       /* classic pcap */
    size_t ninterfaces;      /* pcapng, of the current section */
    uint32_t if_linktype[PCAPFILE_MAX_INTERFACES];
    uint64_t if_ticks_per_sec[PCAPFILE_MAX_INTERFACES];
    bool truncated;          /* stopped early: a record ran past the end or was corrupt */
    char error[160];
};

/* Returns 0, or -1 with r->error set when the buffer is not a pcap at all. data must outlive r. */
int pcapfile_reader_open(struct pcapfile_reader *r, const uint8_t *data, size_t len);

/* Returns 1 with *p filled, 0 at the end of the packets (then r->truncated and r->error say whether it was early). */
int pcapfile_reader_next(struct pcapfile_reader *r, struct pcapfile_packet *p);

#endif
