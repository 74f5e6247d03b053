/* What the object key is made of: a finished flow's first-packet time, protocol, addresses and ports.
 * Three sources, most trusted first: the capturer's queue record (a batch's record carries its name only); the
 * spool file's name
 * (<first_us>_<proto>_<src>_<sport>_<dst>_<dport>[-N].pcap, addresses in ip_addr_format_safe form); the first packet
 * of the pcap itself, for files whose name does not parse. Everything read here is untrusted and bounded. */
#ifndef LURKER_SHIPPER_FLOWMETA_H
#define LURKER_SHIPPER_FLOWMETA_H

#include <stdbool.h>
#include <stdint.h>

#include "batchname.h"
#include "queue.h"

#define FLOWMETA_ADDR_MAX 48

struct flow_meta {
    uint64_t first_us;              /* unix time of the first packet, microseconds */
    char proto[8];                  /* "tcp", "udp", "icmp", "icmp6" or "pN" */
    char src[FLOWMETA_ADDR_MAX];    /* remote (scanner) address, key-safe form ("2001-db8--1") */
    char dst[FLOWMETA_ADDR_MAX];    /* local (sensor) address */
    uint16_t sport, dport;
    uint32_t duplicate;             /* N of a "-N.pcap" name: the capturer's second flow with the same name */
    bool batch;                     /* a batch of flows (common/batchname.h): first_us is when it was opened, the
                                     * addresses, ports and protocol are empty, seq is "<pid>-<n>" */
    char seq[BATCHNAME_SEQ_MAX];
};

void flow_meta_proto_name(uint8_t proto, char out[8]);
void flow_meta_from_record(const struct queue_record *rec, struct flow_meta *m);
/* 0 if the name has the capturer's layout of a flow's file or of a batch's (the address texts are checked to be
 * key-safe), else -1. */
int flow_meta_from_name(const char *name, struct flow_meta *m);
/* From the first packet of a classic pcap held in buf (the file's first bytes). 0, or -1 if unreadable. */
int flow_meta_from_pcap(const uint8_t *buf, size_t len, struct flow_meta *m);

#endif
