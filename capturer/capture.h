/* The capturer's own libpcap handle: the monitored prefixes in both directions (IP only, no neighbour discovery),
 * the configured ring size and snaplen, non-blocking (the main loop polls its descriptor).
 *
 * Block capture, not immediate mode: the kernel fills a ring block and wakes the reader once per block, or after
 * CAPTURE_TIMEOUT_MS when traffic is light, so a flood costs one wake-up per block instead of one per packet. Packet
 * timestamps are the kernel's, so the pcaps are exact; only the flow timers (idle expiry) run up to
 * CAPTURE_TIMEOUT_MS late, which a flow_timeout of seconds does not notice. */
#ifndef LURKER_CAPTURER_CAPTURE_H
#define LURKER_CAPTURER_CAPTURE_H

#include <pcap/pcap.h>
#include <stddef.h>

#include "config.h"

#define CAPTURE_TIMEOUT_MS 100

/* Returns the activated handle, or NULL with a message in err. The link type must be one common/decode.h
 * understands. */
pcap_t *capture_open(const struct lurker_config *cfg, char *err, size_t errlen);

/* Packets the kernel dropped since the handle opened because the ring was full. */
unsigned long long capture_kernel_drops(pcap_t *p);

#endif
