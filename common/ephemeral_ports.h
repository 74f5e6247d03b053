/* The host's ephemeral port range (net.ipv4.ip_local_port_range, which IPv6 shares): the local ports the kernel
 * picks for the host's own outgoing connections and unbound UDP sockets. The capturer uses it to tell the inbound
 * half of a host-started connection from an outsider's packet when it missed the connection's first packet; the
 * responder's nftables rules use it to let the replies to the host's own connections through. */
#ifndef LURKER_EPHEMERAL_PORTS_H
#define LURKER_EPHEMERAL_PORTS_H

#include <stdbool.h>
#include <stdint.h>

struct port_range {
    uint16_t lo, hi;
};

/* Linux's default, used when the sysctl cannot be read. */
#define EPHEMERAL_PORTS_DEFAULT ((struct port_range){32768, 60999})

/* "32768\t60999\n" -> {32768, 60999}. Returns false (out untouched) unless two ports 1..65535, lo <= hi. */
bool ephemeral_ports_parse(const char *text, struct port_range *out);
/* Reads /proc/sys/net/ipv4/ip_local_port_range; on any failure returns EPHEMERAL_PORTS_DEFAULT. */
struct port_range ephemeral_ports_read(void);

static inline bool port_range_has(struct port_range r, uint16_t port)
{
    return port >= r.lo && port <= r.hi;
}

#endif
