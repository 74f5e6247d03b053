/* The packet decoder every process uses: link layer -> IPv4/IPv6 (extension headers walked, at most
 * DECODE_MAX_IPV6_EXTENSIONS) -> TCP (with its options), UDP, ICMP or ICMPv6. Every byte is attacker-controlled: each
 * header is read through a bounds-checked cursor, nothing past caplen. Checksums are never looked at (locally
 * generated packets are captured with partial checksums). Rules settled once for every process:
 * - link types: Ethernet (up to two 802.1Q/802.1ad tags), LINUX_SLL, LINUX_SLL2, NULL/LOOP, RAW (each of its DLT and
 *   LINKTYPE values), IPV4, IPV6; the ethertype must agree with the IP version;
 * - an IPv4 total length or IPv6 payload length of 0 means "as captured" (Linux's TSO/GSO and BIG TCP captures),
 *   with ip_len_unset set: the responder does not answer such a SYN, as a kernel drops it off the wire;
 * - IPv6 extension headers are walked by every process, so the responder answers a SYN behind Hop-by-Hop options;
 * - a fragment's transport header is decoded only in the first fragment (offset 0); `fragment` tells the rest. */
#ifndef LURKER_DECODE_H
#define LURKER_DECODE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10

#define DECODE_MAX_IPV6_EXTENSIONS 8

/* The TCP options a segment carries, as the responder's persona needs them (a SYN's offer, an ACK's timestamps). */
struct tcp_options {
    bool has_mss;
    uint16_t mss;
    bool has_wscale;
    uint8_t wscale;
    bool sack_permitted;
    bool has_timestamp;
    uint32_t ts_val, ts_ecr;
};

enum decode_result {
    DECODE_OK = 0,  /* addresses and, for TCP/UDP/ICMP/ICMPv6, a sound transport header; other protocols: addresses */
    DECODE_PARTIAL, /* addresses only: a later fragment, an IPv6 header chain too long or cut, or a transport header
                     * cut or malformed (its ports, or ICMP type and code, are still there when captured) */
    DECODE_NOT_IP,  /* no flow can be assigned: an unknown link type, not IP, or a broken IP header */
};

struct decoded_packet {
    struct ip_addr src, dst;
    uint8_t proto;               /* the transport protocol, after IPv6 extension headers */
    bool fragment;               /* part of a fragmented datagram (more fragments follow, or offset > 0) */
    uint16_t sport, dport;       /* TCP/UDP; 0 otherwise */
    uint8_t icmp_type, icmp_code;
    uint8_t tcp_flags;
    uint16_t window;
    uint32_t seq, ack;
    struct tcp_options tcp_opts;
    uint32_t ip_len;             /* the datagram's length as its header says (or as captured, if that says 0) */
    bool ip_len_unset;           /* the header said 0: a TSO/GSO or BIG TCP capture, never a packet off the wire */
    uint32_t l4off, l4len;       /* the transport header's offset in the frame; bytes from there to the datagram's
                                  * end (or the capture's, if cut); 0, 0 for DECODE_NOT_IP */
    const uint8_t *payload;      /* after the TCP/UDP header or the 4-byte ICMP header; points into the frame */
    uint32_t payload_len;        /* payload bytes captured (Ethernet padding is not payload) */
    uint32_t payload_wire_len;   /* payload bytes the headers announce: more than payload_len if the snaplen cut it */
};

/* linktype: a pcap DLT_* of a live handle or a LINKTYPE_* of a file (they differ only for RAW, both accepted). */
enum decode_result decode_packet(int linktype, const uint8_t *frame, size_t caplen, struct decoded_packet *out);

/* Parses TCP options (the bytes after the 20-byte header) into *o; stops at EOL or a malformed option. */
void tcp_options_parse(const uint8_t *opts, size_t len, struct tcp_options *o);

#endif
