/* A classic-pcap and pcapng reader over a buffer in memory. Every length is checked against the buffer: a record
 * that runs past the end marks the file truncated, a length no writer would produce marks it corrupt; either way
 * the packets before it are still delivered. */
#ifndef ANALYZER_PCAP_FILE_H
#define ANALYZER_PCAP_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCAP_MAX_CAPLEN 262144u   /* larger records are corrupt (libpcap's own MAXIMUM_SNAPLEN) */
#define PCAPNG_MAX_INTERFACES 64

struct pcap_packet {
    uint64_t ts_sec;
    uint32_t ts_nsec;
    uint32_t linktype;
    uint32_t caplen;
    uint32_t origlen;
    const uint8_t *data;
};

struct pcap_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool pcapng;
    bool swapped;            /* file byte order differs from ours */
    bool nanosecond;         /* classic pcap: nanosecond magic */
    uint32_t linktype;       /* classic pcap */
    size_t ninterfaces;      /* pcapng */
    uint32_t if_linktype[PCAPNG_MAX_INTERFACES];
    uint64_t if_ticks_per_sec[PCAPNG_MAX_INTERFACES];
    bool truncated;          /* stopped early: a record ran past the end or was corrupt */
    char error[160];
};

/* Returns 0, or -1 with r->error set when the buffer is not a pcap at all. */
int pcap_reader_open(struct pcap_reader *r, const uint8_t *data, size_t len);

/* Returns 1 with *p filled, 0 at the end of the packets (check r->truncated and r->error). */
int pcap_reader_next(struct pcap_reader *r, struct pcap_packet *p);

#endif
