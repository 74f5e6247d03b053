/* Decodes one captured frame (link layer, IPv4/IPv6, TCP/UDP/ICMP) into the fields flows are built from.
 * Nothing is trusted: every header length is checked against what was captured. IP fragments other than a
 * complete first fragment are not reassembled (they are reported as undecodable). */
#ifndef ANALYZER_PACKET_H
#define ANALYZER_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_LOOP 108
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL2 276

#define IPPROTO_NUM_ICMP 1
#define IPPROTO_NUM_TCP 6
#define IPPROTO_NUM_UDP 17
#define IPPROTO_NUM_ICMPV6 58

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10

#define IPV6_MAX_EXTENSION_HEADERS 8

struct packet {
    uint8_t family;          /* 4 or 6 */
    uint8_t proto;           /* IPPROTO_NUM_* */
    uint8_t src[16], dst[16];/* IPv4 uses the first 4 bytes */
    uint16_t sport, dport;   /* 0 for ICMP */
    uint8_t tcp_flags;
    uint32_t seq, ack;
    uint8_t icmp_type, icmp_code;
    uint32_t ip_len;         /* IP datagram length as the header says */
    const uint8_t *payload;  /* transport payload as captured */
    uint32_t payload_len;
    bool payload_clipped;    /* the capture holds less payload than the headers announce (snaplen) */
};

enum packet_status { PACKET_OK = 0, PACKET_UNSUPPORTED, PACKET_MALFORMED, PACKET_FRAGMENT };

enum packet_status analyzer_packet_decode(uint32_t linktype, const uint8_t *data, size_t caplen, struct packet *p);

#endif
