#include "flowid.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const struct {
    uint8_t number;
    const char *spelling[2]; /* enum proto_spelling */
} protocols[] = {
    {IPPROTO_TCP, {"tcp", "tcp"}},
    {IPPROTO_UDP, {"udp", "udp"}},
    {IPPROTO_ICMP, {"icmp", "icmp"}},
    {IPPROTO_ICMPV6, {"icmp6", "icmpv6"}},
};

#define NPROTOCOLS (sizeof protocols / sizeof protocols[0])

const char *flowid_proto_name(uint8_t proto, enum proto_spelling spelling)
{
    for (size_t i = 0; i < NPROTOCOLS; i++)
        if (protocols[i].number == proto)
            return protocols[i].spelling[spelling];
    return NULL;
}

static bool fits(int n, size_t outlen)
{
    return n > 0 && (size_t)n < outlen;
}

int spool_name_format(const struct spool_name *n, char *out, size_t outlen)
{
    if (n->batch)
        return fits(snprintf(out, outlen, "%llu_batch_%llu-%llu.pcap", (unsigned long long)n->first_us,
                             (unsigned long long)n->batch_pid, (unsigned long long)n->batch_number),
                    outlen) ? 0 : -1;
    char proto[FLOWID_PROTO_MAX], remote[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN], dup[16] = "";
    const char *name = flowid_proto_name(n->id.proto, PROTO_SPELLING_NAME);
    if (name)
        snprintf(proto, sizeof proto, "%s", name);
    else
        snprintf(proto, sizeof proto, "p%u", n->id.proto);
    ip_addr_format_safe(&n->id.remote, remote, sizeof remote);
    ip_addr_format_safe(&n->id.local, local, sizeof local);
    if (n->duplicate)
        snprintf(dup, sizeof dup, "-%u", n->duplicate);
    return fits(snprintf(out, outlen, "%llu_%s_%s_%u_%s_%u%s.pcap", (unsigned long long)n->first_us, proto, remote,
                         n->id.remote_port, local, n->id.local_port, dup),
                outlen) ? 0 : -1;
}

/* Decimal digits only, at least one, no overflow past max. */
static bool parse_number(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_proto(const char *s, uint8_t *proto)
{
    for (size_t i = 0; i < NPROTOCOLS; i++)
        if (strcmp(s, protocols[i].spelling[PROTO_SPELLING_NAME]) == 0) {
            *proto = protocols[i].number;
            return true;
        }
    uint64_t v;
    if (s[0] != 'p' || !parse_number(s + 1, 255, &v))
        return false;
    *proto = (uint8_t)v;
    return true;
}

/* ip_addr_format_safe's text: IPv6 holds '-' for ':', IPv4 never does. */
static bool parse_addr(const char *s, struct ip_addr *a)
{
    char text[INET6_ADDRSTRLEN];
    uint8_t bytes[16];
    if (strlen(s) >= sizeof text)
        return false;
    if (strchr(s, '-') == NULL) {
        if (inet_pton(AF_INET, s, bytes) != 1)
            return false;
        ip_addr_from_v4(a, bytes);
        return true;
    }
    size_t i = 0;
    for (; s[i]; i++)
        text[i] = s[i] == '-' ? ':' : s[i];
    text[i] = '\0';
    if (inet_pton(AF_INET6, text, bytes) != 1)
        return false;
    ip_addr_from_v6(a, bytes);
    return true;
}

static bool parse_port(const char *s, uint16_t *port)
{
    uint64_t v;
    if (!parse_number(s, UINT16_MAX, &v))
        return false;
    *port = (uint16_t)v;
    return true;
}

/* "<pid>-<n>" */
static bool parse_batch(const char *s, struct spool_name *n)
{
    char pid[24];
    const char *dash = strchr(s, '-');
    if (dash == NULL || (size_t)(dash - s) >= sizeof pid)
        return false;
    memcpy(pid, s, (size_t)(dash - s));
    pid[dash - s] = '\0';
    n->batch = true;
    return parse_number(pid, UINT64_MAX, &n->batch_pid) && parse_number(dash + 1, UINT64_MAX, &n->batch_number);
}

/* "<lport>[-N]" */
static bool parse_last_port(char *s, struct spool_name *n)
{
    char *dash = strchr(s, '-');
    uint64_t dup = 0;
    if (dash != NULL) {
        *dash = '\0';
        if (!parse_number(dash + 1, UINT32_MAX, &dup) || dup == 0)
            return false;
    }
    n->duplicate = (uint32_t)dup;
    return parse_port(s, &n->id.local_port);
}

#define NAME_FIELDS 6

bool spool_name_parse(const char *name, struct spool_name *n)
{
    static const char suffix[] = ".pcap";
    size_t len = strnlen(name, SPOOL_NAME_MAX), stem = len - (sizeof suffix - 1);
    if (len == SPOOL_NAME_MAX || len < sizeof suffix || strcmp(name + stem, suffix) != 0)
        return false;
    char copy[SPOOL_NAME_MAX], *field[NAME_FIELDS], *save = NULL;
    memcpy(copy, name, stem);
    copy[stem] = '\0';
    size_t nfields = 0;
    for (char *f = strtok_r(copy, "_", &save); f != NULL; f = strtok_r(NULL, "_", &save)) {
        if (nfields == NAME_FIELDS)
            return false;
        field[nfields++] = f;
    }
    struct spool_name parsed;
    memset(&parsed, 0, sizeof parsed);
    bool ok = nfields >= 3 && parse_number(field[0], UINT64_MAX, &parsed.first_us);
    if (ok && nfields == 3)
        ok = strcmp(field[1], "batch") == 0 && parse_batch(field[2], &parsed);
    else
        ok = ok && nfields == NAME_FIELDS && parse_proto(field[1], &parsed.id.proto) &&
             parse_addr(field[2], &parsed.id.remote) && parse_port(field[3], &parsed.id.remote_port) &&
             parse_addr(field[4], &parsed.id.local) && parse_last_port(field[5], &parsed);
    /* one spelling only: no leading zeros, no "__", no other text form of an address, no "p6" for tcp */
    char again[SPOOL_NAME_MAX];
    if (!ok || spool_name_format(&parsed, again, sizeof again) != 0 || strcmp(again, name) != 0)
        return false;
    *n = parsed;
    return true;
}
