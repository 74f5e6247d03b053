/* The responder's receive side: a libpcap handle in immediate mode (a SYN+ACK within a millisecond, not at the
 * next buffer timeout) with a kernel BPF filter that passes only what the responder answers: SYNs without ACK to the
 * monitored prefixes, and the clients' later segments (ACK set, SYN clear: handshake ACK, data, FIN, RST+ACK) for
 * the ACK path; with responder.ack_data off, those only on banner ports. */
#ifndef LURKER_RESPONDER_SYN_CAPTURE_H
#define LURKER_RESPONDER_SYN_CAPTURE_H

#include <pcap/pcap.h>
#include <stddef.h>

#include "config.h"

/* Which SYNs user space answers: all of them (raw engine), or only those the tc engine leaves (VLAN-tagged frames,
 * IPv4 with options or fragmented, frames to a multicast/broadcast MAC), since the packet tap sees each SYN before
 * the tc program does. */
enum syn_scope { SYNS_ALL, SYNS_TC_LEAVES };

/* The filter text. Returns 0, or -1 if out is too small. IPv6 is matched at a fixed 40-byte header (no extension
 * headers), because libpcap's tcp[] cannot index past IPv6 headers. */
int syn_capture_filter(const struct lurker_config *cfg, enum syn_scope scope, char *out, size_t outlen);

/* Opens cfg->interface (needs CAP_NET_RAW) with the filter set. Returns the handle, or NULL with a message in err. */
pcap_t *syn_capture_open(const struct lurker_config *cfg, enum syn_scope scope, char *err, size_t errlen);

#endif
