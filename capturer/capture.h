/* The capturer's own libpcap handle: the monitored prefixes in both directions (IP only, no neighbour discovery), immediate mode (so flow clocks are
 * right), the configured ring size and snaplen, non-blocking (the main loop polls its descriptor). */
#ifndef LURKER_CAPTURER_CAPTURE_H
#define LURKER_CAPTURER_CAPTURE_H

#include <pcap/pcap.h>
#include <stddef.h>

#include "config.h"

/* Returns the activated handle, or NULL with a message in err. The link type must be one decode.h understands. */
pcap_t *capture_open(const struct lurker_config *cfg, char *err, size_t errlen);

/* Packets the kernel dropped since the handle opened because the ring was full. */
unsigned long long capture_kernel_drops(pcap_t *p);

#endif
