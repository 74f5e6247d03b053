/* IPv4/IPv6 addresses and prefixes, one representation for both families. */
#ifndef LURKER_ADDR_H
#define LURKER_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* IPv4 is stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) so every table keys on 16 bytes. */
struct ip_addr {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
};

struct prefix {
    struct ip_addr addr;
    uint8_t len; /* in bits of the family: 0..32 for IPv4, 0..128 for IPv6 */
};

/* Inline: the packet decoder sets two addresses for every packet. */
static inline void ip_addr_from_v4(struct ip_addr *a, const void *four_bytes)
{
    static const uint8_t v4_mapped_prefix[12] = {[10] = 0xff, [11] = 0xff};
    a->family = AF_INET;
    memcpy(a->bytes, v4_mapped_prefix, 12);
    memcpy(a->bytes + 12, four_bytes, 4);
}

static inline void ip_addr_from_v6(struct ip_addr *a, const void *sixteen_bytes)
{
    a->family = AF_INET6;
    memcpy(a->bytes, sixteen_bytes, 16);
}

const uint8_t *ip_addr_v4(const struct ip_addr *a); /* the last four bytes */
bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);

/* "203.0.113.10", "203.0.113.0/24", "2001:db8::1", "2001:db8::/64". Host bits past the length are an error.
 * Returns 0, or -1 with a reason in *why (a static string). */
int prefix_parse(const char *text, struct prefix *p, const char **why);
bool prefix_contains(const struct prefix *p, const struct ip_addr *a);
/* True if any of the n prefixes contains a. */
bool prefixes_contain(const struct prefix *p, size_t n, const struct ip_addr *a);

/* Text form. ip_addr_format gives the usual form ("2001:db8::1"); ip_addr_format_safe gives one safe in file names
 * and S3 keys (IPv6 with '-' instead of ':', e.g. "2001-db8--1"). Both need INET6_ADDRSTRLEN (46) bytes. */
void ip_addr_format(const struct ip_addr *a, char *out, size_t outlen);
void ip_addr_format_safe(const struct ip_addr *a, char *out, size_t outlen);

/* BPF filter text matching any of the prefixes as host/net, e.g. "(dst net 203.0.113.10/32 or dst net ...)".
 * direction is "dst ", "src " or "" (either). Returns 0, or -1 if out is too small. */
int prefixes_bpf(const struct prefix *p, size_t n, const char *direction, char *out, size_t outlen);

#endif
