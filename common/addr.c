#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

const uint8_t *ip_addr_v4(const struct ip_addr *a)
{
    return a->bytes + 12;
}

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

static bool host_bits_zero(const struct prefix *p)
{
    unsigned offset = p->addr.family == AF_INET ? 96 : 0;
    for (unsigned bit = offset + p->len; bit < 128; bit++)
        if (p->addr.bytes[bit / 8] & (0x80 >> (bit % 8)))
            return false;
    return true;
}

int prefix_parse(const char *text, struct prefix *p, const char **why)
{
    char buf[64];
    size_t n = strnlen(text, sizeof buf);
    if (n == 0 || n >= sizeof buf) {
        *why = "not an IP address or prefix";
        return -1;
    }
    memcpy(buf, text, n + 1);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';

    uint8_t raw[16];
    unsigned max_len;
    if (inet_pton(AF_INET, buf, raw) == 1) {
        ip_addr_from_v4(&p->addr, raw);
        max_len = 32;
    } else if (inet_pton(AF_INET6, buf, raw) == 1) {
        ip_addr_from_v6(&p->addr, raw);
        max_len = 128;
    } else {
        *why = "not an IP address or prefix";
        return -1;
    }

    p->len = (uint8_t)max_len;
    if (slash) {
        const char *digits = slash + 1;
        unsigned len = 0;
        if (*digits == '\0' || strlen(digits) > 3) {
            *why = "prefix length is not a number";
            return -1;
        }
        for (const char *c = digits; *c; c++) {
            if (*c < '0' || *c > '9') {
                *why = "prefix length is not a number";
                return -1;
            }
            len = len * 10 + (unsigned)(*c - '0');
        }
        if (len > max_len) {
            *why = max_len == 32 ? "IPv4 prefix length over 32" : "IPv6 prefix length over 128";
            return -1;
        }
        p->len = (uint8_t)len;
    }
    if (!host_bits_zero(p)) {
        *why = "prefix has host bits set past its length";
        return -1;
    }
    return 0;
}

bool prefix_contains(const struct prefix *p, const struct ip_addr *a)
{
    if (p->addr.family != a->family)
        return false;
    unsigned offset = a->family == AF_INET ? 96 : 0;
    unsigned bits = offset + p->len;
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(p->addr.bytes, a->bytes, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (p->addr.bytes[full] & mask) == (a->bytes[full] & mask);
}

bool prefixes_contain(const struct prefix *p, size_t n, const struct ip_addr *a)
{
    for (size_t i = 0; i < n; i++)
        if (prefix_contains(&p[i], a))
            return true;
    return false;
}

void ip_addr_format(const struct ip_addr *a, char *out, size_t outlen)
{
    const void *src = a->family == AF_INET ? (const void *)ip_addr_v4(a) : (const void *)a->bytes;
    if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, src, out, (socklen_t)outlen) && outlen)
        out[0] = '\0';
}

void ip_addr_format_safe(const struct ip_addr *a, char *out, size_t outlen)
{
    ip_addr_format(a, out, outlen);
    for (char *c = out; *c; c++)
        if (*c == ':')
            *c = '-';
}

int prefixes_bpf(const struct prefix *p, size_t n, const char *direction, char *out, size_t outlen)
{
    size_t used = 0;
    int w = snprintf(out, outlen, "(");
    if (w < 0 || (size_t)w >= outlen)
        return -1;
    used = (size_t)w;
    for (size_t i = 0; i < n; i++) {
        char text[64];
        ip_addr_format(&p[i].addr, text, sizeof text);
        w = snprintf(out + used, outlen - used, "%s%snet %s/%u", i ? " or " : "", direction, text, p[i].len);
        if (w < 0 || (size_t)w >= outlen - used)
            return -1;
        used += (size_t)w;
    }
    w = snprintf(out + used, outlen - used, ")");
    if (w < 0 || (size_t)w >= outlen - used)
        return -1;
    return 0;
}
