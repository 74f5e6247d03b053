/* Parsing one captured frame into the TCP fields the responder acts on. Every byte is attacker-controlled: each
 * length is checked against the captured length before it is read; a bad checksum is NOT a reason to reject (locally
 * generated packets are often captured with partial checksums). */
#ifndef LURKER_RESPONDER_TCP_SEGMENT_H
#define LURKER_RESPONDER_TCP_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10

/* The TCP options a SYN may offer, as the responder's persona needs them. */
struct tcp_offer {
    bool has_mss;
    uint16_t mss;
    bool has_wscale;
    uint8_t wscale;
    bool sack_permitted;
    bool has_timestamp;
    uint32_t ts_val, ts_ecr;
};

struct tcp_segment {
    struct ip_addr src, dst;       /* src = the remote client, dst = the monitored address */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t window;
    struct tcp_offer offer;
    const uint8_t *payload;        /* points into the frame; payload_len bytes were captured */
    size_t payload_len;
    size_t payload_wire_len;       /* the payload's length on the wire (what an ACK must cover) */
};

enum segment_result { SEGMENT_OK = 0, SEGMENT_NOT_TCP, SEGMENT_MALFORMED };

/* linktype is the pcap DLT (EN10MB, LINUX_SLL, LINUX_SLL2, RAW). */
enum segment_result tcp_segment_parse(const uint8_t *frame, size_t caplen, int linktype, struct tcp_segment *seg);

/* Parses TCP options (the bytes after the 20-byte header) into *offer; stops at EOL or a malformed option. */
void tcp_options_parse(const uint8_t *opts, size_t len, struct tcp_offer *offer);

#endif
