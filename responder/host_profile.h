/* What the persona needs to know about this host: the interface MTU (for the MSS we announce) and the window scale a
 * Linux kernel with this host's buffer sysctls would announce. Read once at start, before privileges are dropped. */
#ifndef LURKER_RESPONDER_HOST_PROFILE_H
#define LURKER_RESPONDER_HOST_PROFILE_H

#include <stdint.h>

#include "persona.h"

/* Fills *host for interface IFNAME; falls back to MTU 1500 and window scale 7 (a stock kernel) when unreadable. */
void host_profile_read(const char *ifname, struct persona_host *host);

/* The kernel's rule (tcp_select_initial_window): clamp(ilog2(max(tcp_rmem_max, rmem_max)) - 15, 0, 14). */
uint8_t linux_wscale_for(uint64_t tcp_rmem_max, uint64_t rmem_max);

#endif
