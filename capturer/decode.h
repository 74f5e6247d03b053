/* Packet decoding for the capturer: link layer, IPv4/IPv6 (extension headers walked with bounds), then the TCP, UDP,
 * ICMP or ICMPv6 header. Every byte is attacker-controlled; nothing is read past caplen, and checksums are never
 * looked at (locally generated packets are captured with partial checksums). */
#ifndef LURKER_CAPTURER_DECODE_H
#define LURKER_CAPTURER_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum decode_result {
    DECODE_OK = 0,         /* addresses and the transport header found */
    DECODE_PARTIAL,        /* addresses found, transport header missing or cut (ports are 0): still a flow */
    DECODE_NOT_IP,         /* not IPv4/IPv6, or the IP header itself is broken: no flow can be assigned */
};

struct decoded_packet {
    uint8_t family;            /* AF_INET or AF_INET6 */
    uint8_t proto;             /* transport protocol (after IPv6 extension headers) */
    uint8_t src[16], dst[16];  /* IPv4 as IPv4-mapped IPv6, like struct ip_addr */
    uint16_t sport, dport;     /* TCP/UDP ports; ICMP: type, code */
    uint8_t tcp_flags;         /* TCP only */
    uint32_t tcp_seq, tcp_ack; /* TCP only */
    uint32_t l4off, l4len;     /* the transport header's offset in the captured bytes, and the bytes from there to
                                * the end of the IP packet (or of the capture); 0, 0 for DECODE_NOT_IP */
    uint32_t payload_len;      /* bytes after the TCP/UDP header, or after an ICMP echo/timestamp header, by the IP
                                * length; 0 for ICMP errors and other ICMP (they carry no client data of their own) */
};

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

/* dlt: libpcap's DLT_* of the handle (DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_IPV4, DLT_IPV6). */
enum decode_result decode_packet(int dlt, const uint8_t *data, size_t caplen, struct decoded_packet *out);

#endif
