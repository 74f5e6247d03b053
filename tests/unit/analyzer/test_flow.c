/* The analyzer's flow table (analyzer/flow.c) on packets written out here field by field: what each flow must hold
 * (endpoints, client, counters, flags, segments in capture order) is worked out by hand from those packets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../../../analyzer/flow.h"

#define CLIENT 0xc6336402u /* 198.51.100.2 */
#define SERVER 0xcb00710au /* 203.0.113.10 */

static struct ip_addr v4(uint32_t a)
{
    const uint8_t bytes[4] = { (uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a };
    struct ip_addr r;
    ip_addr_from_v4(&r, bytes);
    return r;
}

static struct decoded_packet tcp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags,
                                 uint32_t seq, uint32_t ack, const char *payload)
{
    struct decoded_packet p = { .src = v4(src), .dst = v4(dst), .proto = IPPROTO_TCP, .sport = sport,
                                .dport = dport, .tcp_flags = flags, .seq = seq, .ack = ack };
    p.payload = (const uint8_t *)payload;
    p.payload_len = payload ? (uint32_t)strlen(payload) : 0;
    p.ip_len = 40 + p.payload_len;
    return p;
}

static struct timestamp at(uint64_t sec, uint32_t nsec)
{
    return (struct timestamp){ .sec = sec, .nsec = nsec };
}

Test(flow, handshake_data_and_teardown_in_one_flow)
{
    struct pcap_flows t;
    pcap_flows_init(&t);
    struct decoded_packet pk[] = {
        tcp(CLIENT, 40000, SERVER, 80, TCPF_SYN, 1000, 0, NULL),
        tcp(SERVER, 80, CLIENT, 40000, TCPF_SYN | TCPF_ACK, 5000, 1001, NULL),
        tcp(CLIENT, 40000, SERVER, 80, TCPF_ACK, 1001, 5001, NULL),
        tcp(CLIENT, 40000, SERVER, 80, TCPF_PSH | TCPF_ACK, 1001, 5001, "GET "),
        tcp(CLIENT, 40000, SERVER, 80, TCPF_PSH | TCPF_ACK, 1005, 5001, "/ HTTP/1.0\r\n\r\n"),
        tcp(SERVER, 80, CLIENT, 40000, TCPF_FIN | TCPF_ACK, 5001, 1019, NULL),
        tcp(CLIENT, 40000, SERVER, 80, TCPF_RST, 1019, 0, "ignored"), /* data on a RST is not stream data */
    };
    for (size_t i = 0; i < sizeof pk / sizeof *pk; i++)
        cr_assert_eq(pcap_flows_add(&t, &pk[i], at(1764098401 + i, 250000000)), 0);

    cr_assert_eq(t.nflows, 1);
    const struct flow *f = &t.flows[0];
    cr_assert_eq(f->family, 4);
    cr_assert_eq(f->proto, IPPROTO_TCP);
    cr_assert_eq(f->port[0], 40000, "endpoint 0 sent the first packet");
    cr_assert_eq(f->port[1], 80);
    cr_assert_eq(memcmp(f->addr[0], (uint8_t[]){ 198, 51, 100, 2 }, 4), 0);
    cr_assert_eq(f->client, 0);
    cr_assert_eq(f->first.sec, 1764098401);
    cr_assert_eq(f->last.sec, 1764098407);
    cr_assert_eq(f->last.nsec, 250000000);

    const struct flow_direction *c = &f->dir[0], *s = &f->dir[1];
    cr_assert_eq(c->packets, 5);
    cr_assert_eq(s->packets, 2);
    cr_assert_eq(c->ip_bytes, 40 * 5 + 4 + 14 + 7);
    cr_assert_eq(s->ip_bytes, 80);
    cr_assert(c->syn && !c->synack && c->syn_seq == 1000);
    cr_assert(s->synack && !s->syn && s->syn_seq == 5000);
    cr_assert(c->acked_peer_synack, "ACK 5001 acknowledges the SYN+ACK's 5000 + 1");
    cr_assert(!s->acked_peer_synack);
    cr_assert(!c->fin && c->rst);
    cr_assert(s->fin && !s->rst);

    cr_assert_eq(c->nsegs, 2);
    cr_assert_eq(s->nsegs, 0);
    struct segment segs[2];
    pcap_flows_segments(&t, c, segs);
    cr_assert_eq(segs[0].seq, 1001);
    cr_assert_eq(segs[0].len, 4);
    cr_assert_eq(memcmp(segs[0].data, "GET ", 4), 0);
    cr_assert_eq(segs[1].seq, 1005);
    cr_assert_eq(segs[1].len, 14);
    pcap_flows_free(&t);
}

Test(flow, client_from_the_handshake_not_the_first_packet)
{
    struct pcap_flows t;
    pcap_flows_init(&t);
    /* the capture starts with the server's SYN+ACK: the client is its receiver (endpoint 1) */
    struct decoded_packet synack = tcp(SERVER, 22, CLIENT, 50000, TCPF_SYN | TCPF_ACK, 7, 100, NULL);
    struct decoded_packet ack = tcp(CLIENT, 50000, SERVER, 22, TCPF_ACK, 100, 8, NULL);
    cr_assert_eq(pcap_flows_add(&t, &synack, at(10, 0)), 0);
    cr_assert_eq(pcap_flows_add(&t, &ack, at(11, 0)), 0);
    cr_assert_eq(t.nflows, 1);
    cr_assert_eq(t.flows[0].port[0], 22);
    cr_assert_eq(t.flows[0].client, 1);
    cr_assert(t.flows[0].dir[1].acked_peer_synack);

    /* mid-stream data only: the first packet's sender is the client */
    struct decoded_packet data = tcp(SERVER, 443, CLIENT, 50001, TCPF_ACK, 1, 1, "x");
    cr_assert_eq(pcap_flows_add(&t, &data, at(12, 0)), 0);
    cr_assert_eq(t.nflows, 2);
    cr_assert_eq(t.flows[1].client, 0);
    cr_assert(!t.flows[1].client_from_syn);
    pcap_flows_free(&t);
}

Test(flow, reused_four_tuple_with_a_new_syn_is_a_new_flow)
{
    struct pcap_flows t;
    pcap_flows_init(&t);
    struct decoded_packet first = tcp(CLIENT, 40000, SERVER, 80, TCPF_SYN, 1000, 0, NULL);
    struct decoded_packet again = tcp(CLIENT, 40000, SERVER, 80, TCPF_SYN, 1000, 0, NULL); /* a retransmitted SYN */
    struct decoded_packet reuse = tcp(CLIENT, 40000, SERVER, 80, TCPF_SYN, 900000, 0, NULL);
    struct decoded_packet data = tcp(CLIENT, 40000, SERVER, 80, TCPF_ACK, 900001, 0, "b");
    cr_assert_eq(pcap_flows_add(&t, &first, at(1, 0)), 0);
    cr_assert_eq(pcap_flows_add(&t, &again, at(2, 0)), 0);
    cr_assert_eq(t.nflows, 1);
    cr_assert_eq(t.flows[0].dir[0].packets, 2);
    cr_assert_eq(pcap_flows_add(&t, &reuse, at(3, 0)), 0);
    cr_assert_eq(pcap_flows_add(&t, &data, at(4, 0)), 0);
    cr_assert_eq(t.nflows, 2);
    cr_assert_eq(t.flows[1].dir[0].syn_seq, 900000);
    cr_assert_eq(t.flows[1].dir[0].nsegs, 1, "later packets go to the new connection");
    cr_assert_eq(t.flows[0].dir[0].nsegs, 0);
    pcap_flows_free(&t);
}

Test(flow, datagrams_icmp_families_and_time_order)
{
    struct pcap_flows t;
    pcap_flows_init(&t);
    struct decoded_packet q = { .src = v4(CLIENT), .dst = v4(SERVER), .proto = IPPROTO_UDP, .sport = 5353,
                                .dport = 53, .payload = (const uint8_t *)"abc", .payload_len = 3, .ip_len = 31 };
    struct decoded_packet r = q;
    r.src = q.dst;
    r.dst = q.src;
    r.sport = 53;
    r.dport = 5353;
    r.payload = (const uint8_t *)"de";
    r.payload_len = 2;
    cr_assert_eq(pcap_flows_add(&t, &q, at(100, 500)), 0);
    cr_assert_eq(pcap_flows_add(&t, &r, at(99, 0)), 0); /* earlier timestamp: last stays at the latest */
    cr_assert_eq(pcap_flows_add(&t, &q, at(100, 400)), 0);
    /* the same 4-byte address as an IPv6 prefix is another flow */
    struct decoded_packet v6 = q;
    ip_addr_from_v6(&v6.src, (const uint8_t[16]){ 198, 51, 100, 2 });
    ip_addr_from_v6(&v6.dst, (const uint8_t[16]){ 203, 0, 113, 10 });
    cr_assert_eq(pcap_flows_add(&t, &v6, at(101, 0)), 0);
    struct decoded_packet icmp = { .src = v4(0xc6336409u /* 198.51.100.9 */), .dst = v4(SERVER),
                                   .proto = IPPROTO_ICMP, .icmp_type = 8, .icmp_code = 0, .ip_len = 28 };
    cr_assert_eq(pcap_flows_add(&t, &icmp, at(102, 0)), 0);
    icmp.icmp_type = 0;
    cr_assert_eq(pcap_flows_add(&t, &icmp, at(103, 0)), 0);

    cr_assert_eq(t.nflows, 3);
    const struct flow *u = &t.flows[0];
    cr_assert_eq(u->dir[0].nsegs, 2);
    cr_assert_eq(u->dir[1].nsegs, 1);
    cr_assert_eq(u->first.sec, 100);
    cr_assert_eq(u->last.sec, 100);
    cr_assert_eq(u->last.nsec, 500);
    struct segment segs[2];
    pcap_flows_segments(&t, &u->dir[0], segs);
    cr_assert_eq(segs[0].len, 3);
    cr_assert_eq(segs[1].len, 3);
    cr_assert_eq(t.flows[1].family, 6);
    cr_assert_eq(t.flows[2].icmp_type, 8, "the first packet's type");
    cr_assert_eq(t.flows[2].dir[0].packets, 2);
    pcap_flows_free(&t);
}

Test(flow, many_flows_keep_their_order_and_reset_empties)
{
    struct pcap_flows t;
    pcap_flows_init(&t);
    const unsigned n = 20000;
    for (unsigned round = 0; round < 2; round++) /* each flow's second packet comes back the other way */
        for (unsigned i = 0; i < n; i++) {
            struct decoded_packet p = round == 0 ? tcp(CLIENT + i / 1000, (uint16_t)(1024 + i % 1000), SERVER, 80, TCPF_SYN, i, 0, NULL)
                                         : tcp(SERVER, 80, CLIENT + i / 1000, (uint16_t)(1024 + i % 1000),
                                               TCPF_RST | TCPF_ACK, 0, i + 1, NULL);
            cr_assert_eq(pcap_flows_add(&t, &p, at(round, i)), 0);
        }
    cr_assert_eq(t.nflows, n);
    for (unsigned i = 0; i < n; i++) {
        const struct flow *f = &t.flows[i];
        cr_assert_eq(f->port[0], 1024 + i % 1000, "flow %u", i);
        cr_assert_eq(f->addr[0][3], (uint8_t)(2 + i / 1000));
        cr_assert_eq(f->dir[0].packets, 1);
        cr_assert_eq(f->dir[1].packets, 1);
        cr_assert(f->dir[1].rst);
    }
    pcap_flows_reset(&t);
    cr_assert_eq(t.nflows, 0);
    struct decoded_packet p = tcp(CLIENT, 1024, SERVER, 80, TCPF_SYN, 0, 0, NULL);
    cr_assert_eq(pcap_flows_add(&t, &p, at(5, 0)), 0);
    cr_assert_eq(t.nflows, 1);
    cr_assert_eq(t.flows[0].dir[0].packets, 1, "nothing left over from before the reset");
    pcap_flows_free(&t);
}

/* The table's hash before it was keyed (FNV-1a of each endpoint, mixed): what an attacker could compute offline. */
static uint64_t unkeyed_hash(const uint8_t a[4], uint16_t pa, const uint8_t b[4], uint16_t pb)
{
    uint64_t ha = 0xcbf29ce484222325ull, hb = 0xcbf29ce484222325ull;
    for (int i = 0; i < 4; i++) {
        ha = (ha ^ a[i]) * 0x100000001b3ull;
        hb = (hb ^ b[i]) * 0x100000001b3ull;
    }
    ha ^= pa;
    hb ^= pb;
    uint64_t h = (ha ^ hb) + (ha * hb) * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)4 << 8 | IPPROTO_TCP;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

Test(flow, flows_that_collide_without_a_key_spread_over_the_table)
{
    /* 256 SYNs from 198.51.100.0/24 to 203.0.113.10:80 whose unkeyed hashes agree in their low 15 bits: in any
     * table of up to 32768 slots they would all share one probe chain */
    const uint8_t server[4] = { 203, 0, 113, 10 };
    struct pcap_flows t;
    pcap_flows_init(&t);
    unsigned found = 0;
    for (uint32_t host = 1; host < 255 && found < 256; host++)
        for (uint32_t port = 1024; port < 65536 && found < 256; port++) {
            const uint8_t client[4] = { 198, 51, 100, (uint8_t)host };
            if ((unkeyed_hash(client, (uint16_t)port, server, 80) & 0x7fff) != 0x1234)
                continue;
            struct decoded_packet p = tcp(0xc6336400u | host, (uint16_t)port, SERVER, 80, TCPF_SYN, port, 0, NULL);
            cr_assert_eq(pcap_flows_add(&t, &p, at(1, found++)), 0);
        }
    cr_assert_eq(found, 256);
    cr_assert_eq(t.nflows, 256);
    cr_assert_eq(t.nslots, 512, "only the load factor grew the table (a long chain rebuilds it larger): %zu", t.nslots);
    cr_assert_lt(t.longest_probe, FLOW_PROBE_LIMIT, "longest probe %zu", t.longest_probe);
    pcap_flows_free(&t);
}

Test(flow, a_reused_four_tuple_stays_with_the_new_connection_when_the_table_grows)
{
    struct pcap_flows t;
    pcap_flows_init(&t);
    struct decoded_packet old = tcp(CLIENT, 40000, SERVER, 80, TCPF_SYN, 1000, 0, NULL);
    struct decoded_packet reuse = tcp(CLIENT, 40000, SERVER, 80, TCPF_SYN, 900000, 0, NULL);
    cr_assert_eq(pcap_flows_add(&t, &old, at(1, 0)), 0);
    cr_assert_eq(pcap_flows_add(&t, &reuse, at(2, 0)), 0);
    size_t slots = t.nslots;
    for (uint16_t i = 0; t.nslots == slots; i++) { /* other flows until the slots are rebuilt */
        struct decoded_packet other = tcp(CLIENT, (uint16_t)(1024 + i), SERVER, 80, TCPF_SYN, i, 0, NULL);
        cr_assert_eq(pcap_flows_add(&t, &other, at(3, i)), 0);
    }
    struct decoded_packet data = tcp(CLIENT, 40000, SERVER, 80, TCPF_ACK, 900001, 0, "b");
    cr_assert_eq(pcap_flows_add(&t, &data, at(4, 0)), 0);
    cr_assert_eq(t.flows[1].dir[0].nsegs, 1, "the data belongs to the connection that replaced the old one");
    cr_assert_eq(t.flows[0].dir[0].nsegs, 0);
    pcap_flows_free(&t);
}
