#include "origin.h"

#include <netinet/in.h>
#include <pcap/pcap.h>
#include <string.h>
#include <sys/socket.h>

#include "syncookie.h"

#define ICMP_HEADER_LEN 8

static bool is_icmp(const struct decoded_packet *p)
{
    return p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6;
}

static bool icmp_error(const struct decoded_packet *p)
{
    uint8_t type = p->icmp_type;
    if (p->proto == IPPROTO_ICMP)
        return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    return p->proto == IPPROTO_ICMPV6 && type >= 1 && type <= 4;
}

static bool neighbour_discovery(const struct decoded_packet *p)
{
    return p->proto == IPPROTO_ICMPV6 && p->icmp_type >= 133 && p->icmp_type <= 137;
}

/* The error's verdict from the packet it quotes (IP header and at least the first bytes of its transport). */
static enum origin_verdict icmp_error_origin(const struct tracker *tr, const uint8_t *data,
                                             const struct decoded_packet *p, enum decode_result r, int inbound)
{
    if (!inbound)
        return ORIGIN_HOST; /* the host's own error message, e.g. its port unreachable (no flow starts outbound) */
    if (r != DECODE_OK || p->l4len <= ICMP_HEADER_LEN)
        return ORIGIN_OUTSIDER;
    const uint8_t *quoted = data + p->l4off + ICMP_HEADER_LEN;
    size_t quoted_len = p->l4len - ICMP_HEADER_LEN;
    struct decoded_packet q;
    /* the quoted transport header may be cut to its first 8 bytes: the decoder still gives its ports */
    if (decode_packet(DLT_RAW, quoted, quoted_len, &q) == DECODE_NOT_IP || q.src.family != p->src.family)
        return ORIGIN_OUTSIDER;
    if (!tracker_is_local(tr, q.src.family, q.src.bytes))
        return ORIGIN_OUTSIDER; /* about a packet that came from outside */
    struct flow_key key;
    int quoted_inbound;
    tracker_flow_key(tr, &q, &key, &quoted_inbound);
    const struct flow *f = flow_table_lookup(&tr->table, &key);
    return f ? ORIGIN_OUTSIDER : ORIGIN_HOST; /* the table holds recorded flows only */
}

enum origin_verdict origin_of_packet(const struct tracker *tr, const uint8_t *data, const struct decoded_packet *p,
                                     enum decode_result r, int inbound)
{
    if (!is_icmp(p) || r == DECODE_NOT_IP)
        return ORIGIN_UNDECIDED;
    if (neighbour_discovery(p))
        return ORIGIN_HOST;
    if (icmp_error(p))
        return icmp_error_origin(tr, data, p, r, inbound);
    return ORIGIN_UNDECIDED;
}

static bool valid_cookie(const struct tracker *tr, const struct flow_key *key, uint32_t ack)
{
    if (tr->cookie_key == NULL)
        return false;
    struct ip_addr remote = {.family = key->family}, local = {.family = key->family};
    memcpy(remote.bytes, key->remote, 16);
    memcpy(local.bytes, key->local, 16);
    return syncookie_ack_valid(tr->cookie_key, &remote, &local, key->remote_port, key->local_port, ack,
                               syncookie_coarse_now());
}

static enum origin_verdict tcp_first_packet(const struct tracker *tr, const struct decoded_packet *p, int inbound,
                                            const struct flow_key *key)
{
    bool syn = p->tcp_flags & TCPF_SYN, ack = p->tcp_flags & TCPF_ACK;
    if (syn && !ack)
        return inbound ? ORIGIN_OUTSIDER : ORIGIN_HOST;
    if (syn && !inbound)
        return ORIGIN_OUTSIDER; /* our SYN+ACK: the answer to an outsider's SYN */
    if (inbound && ack && !syn && valid_cookie(tr, key, p->ack))
        return ORIGIN_OUTSIDER; /* the rest of a handshake the responder answered */
    return port_range_has(tr->ephemeral, key->local_port) ? ORIGIN_HOST : ORIGIN_OUTSIDER;
}

enum origin_verdict origin_of_first_packet(const struct tracker *tr, const struct decoded_packet *p,
                                           enum decode_result r, int inbound, const struct flow_key *key)
{
    if (p->proto == IPPROTO_TCP && r == DECODE_OK)
        return tcp_first_packet(tr, p, inbound, key);
    return inbound ? ORIGIN_OUTSIDER : ORIGIN_HOST;
}
