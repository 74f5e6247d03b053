/* Classic pcap files (the libpcap 2.4 format every tool reads): a 24-byte global header, then one 16-byte record
 * header per packet followed by its captured bytes. Microsecond timestamps, host byte order (readers detect it from
 * the magic). Only building blocks: callers keep records in their own buffers and write them as they see fit. */
#ifndef LURKER_PCAPFILE_H
#define LURKER_PCAPFILE_H

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

#endif
