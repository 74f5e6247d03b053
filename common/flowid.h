/* A flow's identity, written once for every process: its key (protocol, remote and local address and port), the
 * protocol's name, and the spool file name that carries both from the capturer (which writes it) to the shipper
 * (which reads it back):
 *   <first_us>_<proto>_<remote>_<rport>_<local>_<lport>[-N].pcap   one flow (ICMP: the ports are type and code)
 *   <opened_us>_batch_<pid>-<n>.pcap                              a batch of flows without client data
 * first_us is the first packet's unix time in microseconds (a batch's: when it was opened); the addresses are in
 * ip_addr_format_safe form (IPv6 with '-' for ':', so names are also S3 keys); proto is "tcp", "udp", "icmp",
 * "icmp6" or "p<number>"; "-N" (N >= 1) tells apart two flows of one tuple in one microsecond.
 *
 * The spool is a directory a local user may write to, so a name is untrusted: spool_name_parse accepts exactly the
 * names spool_name_format writes (it formats what it parsed and compares), nothing longer, no other spelling. */
#ifndef LURKER_COMMON_FLOWID_H
#define LURKER_COMMON_FLOWID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define SPOOL_NAME_MAX 128 /* with the NUL; the queue record's name field */
#define FLOWID_PROTO_MAX 8

struct flow_id {
    uint8_t proto;                      /* IPPROTO_* */
    uint16_t remote_port, local_port;   /* ICMP: the first packet's type and code */
    struct ip_addr remote, local;       /* remote: the scanner; local: the sensor */
};

struct spool_name {
    uint64_t first_us;                  /* a flow's first packet; a batch's opening */
    bool batch;
    struct flow_id id;                  /* a flow's */
    uint32_t duplicate;                 /* a flow's N of "-N", 0 without */
    uint64_t batch_pid, batch_number;   /* a batch's writer and its counter */
};

/* The two spellings are published formats and stay as they are: file names and object keys say "icmp6", the
 * analyzer's JSON (analyzer/SCHEMA.md) says "icmpv6". */
enum proto_spelling { PROTO_SPELLING_NAME, PROTO_SPELLING_JSON };

/* The protocol's name, or NULL for a protocol other than TCP, UDP, ICMP and ICMPv6. */
const char *flowid_proto_name(uint8_t proto, enum proto_spelling spelling);

/* 0, or -1 when out is too small. */
int spool_name_format(const struct spool_name *n, char *out, size_t outlen);
/* Whether name is a spool name as spool_name_format writes it; *n when it is. */
bool spool_name_parse(const char *name, struct spool_name *n);

#endif
