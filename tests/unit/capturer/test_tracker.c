/* Capturer: flow table (insert, lookup, last-packet order, removal), the tracker's finishing rules (idle timeout,
 * age, packet and byte caps, max_flows, memory limit, shutdown), handshake detection and the decoder's bounds. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "../../helpers/capturer_packets.h"
#include "decode.h"
#include "../../../capturer/flow_table.h"
#include "pcap/pcap.h"
#include "queue.h"
#include "syncookie.h"
#include "../../../capturer/tracker.h"

#include "../../helpers/capturer_flow_keys.h"

Test(capturer_flow_table, insert_lookup_remove)
{
    struct flow_table t;
    cr_assert_eq(flow_table_init(&t, 1000, test_key), 0);
    for (uint32_t i = 0; i < 5000; i++) {
        struct flow_key k = key_n(i);
        cr_assert_null(flow_table_lookup(&t, &k));
        cr_assert_not_null(flow_table_insert(&t, &k, i));
    }
    cr_assert_eq(t.count, 5000);
    for (uint32_t i = 0; i < 5000; i++) {
        struct flow_key k = key_n(i);
        struct flow *f = flow_table_lookup(&t, &k);
        cr_assert_not_null(f);
        cr_assert_eq(memcmp(&f->key, &k, sizeof k), 0);
    }
    struct flow_key k = key_n(42);
    struct flow *f = flow_table_lookup(&t, &k);
    flow_table_remove(&t, f);
    flow_table_release(f);
    cr_assert_null(flow_table_lookup(&t, &k));
    cr_assert_eq(t.count, 4999);
    flow_table_destroy(&t);
}

Test(capturer_flow_table, order_is_by_last_packet)
{
    struct flow_table t;
    cr_assert_eq(flow_table_init(&t, 16, test_key), 0);
    struct flow_key a = key_n(1), b = key_n(2), c = key_n(3);
    struct flow *fa = flow_table_insert(&t, &a, 10);
    struct flow *fb = flow_table_insert(&t, &b, 20);
    struct flow *fc = flow_table_insert(&t, &c, 30);
    cr_assert_eq(flow_table_oldest(&t), fa);
    flow_table_touch(&t, fa, 40);
    cr_assert_eq(flow_table_oldest(&t), fb);
    cr_assert_eq(TAILQ_LAST(&t.quiet, flow_order), fa);
    flow_table_remove(&t, fb);
    flow_table_release(fb);
    cr_assert_eq(flow_table_oldest(&t), fc);
    cr_assert_eq(TAILQ_NEXT(fc, order), fa);
    cr_assert_null(TAILQ_NEXT(fa, order));
    flow_table_destroy(&t);
}

Test(capturer_flow_table, append_keeps_pcap_records_and_memory)
{
    struct flow_table t;
    cr_assert_eq(flow_table_init(&t, 16, test_key), 0);
    struct flow_key k = key_n(7);
    struct flow *f = flow_table_insert(&t, &k, 0);
    uint8_t data[100];
    memset(data, 0xab, sizeof data);
    cr_assert_eq(flow_append(&t, f, 1500000, data, 60, 60, 1 << 20), 0);
    cr_assert_eq(f->records_cap, FLOW_RECORDS_KEEP, "the first buffer is the size the pool recycles");
    for (int i = 0; i < 10; i++)
        cr_assert_eq(flow_append(&t, f, 1500001 + (uint64_t)i, data, 100, 1500, 1 << 20), 0);
    cr_assert_eq(f->packets, 11);
    cr_assert_eq(f->records_len, 16 + 60 + 10 * (16 + 100));
    cr_assert_eq(f->wire_bytes, 60 + 10 * 1500);
    cr_assert_eq(t.memory, f->records_cap);
    cr_assert_eq(f->first_us, 1500000);
    cr_assert_eq(f->last_us, 1500010);
    uint32_t sec, usec, caplen, len;
    memcpy(&sec, f->records, 4);
    memcpy(&usec, f->records + 4, 4);
    memcpy(&caplen, f->records + 8, 4);
    memcpy(&len, f->records + 12, 4);
    cr_assert_eq(sec, 1);
    cr_assert_eq(usec, 500000);
    cr_assert_eq(caplen, 60);
    cr_assert_eq(len, 60);
    flow_table_remove(&t, f);
    cr_assert_eq(t.memory, 0);
    flow_table_release(f);
    flow_table_destroy(&t);
}

Test(capturer_flow_table, overhead_per_flow_is_small)
{
    /* 168: the back pointer of O(1) removal and the pool pointer (issue 14) cost 8 bytes each, paid for by 32-bit
     * record lengths; the goal is < 256 bytes of overhead in all */
    cr_assert_leq(sizeof(struct flow), 168, "struct flow is %zu bytes", sizeof(struct flow));
}

/* ---- tracker ---- */

#define MAX_FINISHED 64
struct sink {
    struct flow *flows[MAX_FINISHED];
    size_t n;
};

static void collect(void *arg, struct flow *f)
{
    struct sink *s = arg;
    cr_assert_lt(s->n, MAX_FINISHED);
    s->flows[s->n++] = f;
}

static void sink_free(struct sink *s)
{
    for (size_t i = 0; i < s->n; i++)
        flow_table_release(s->flows[i]);
    s->n = 0;
}

static struct prefix sensor_prefixes[2];
static struct capturer_config cc;
static struct tracker tr;
static struct sink sink;

static void setup_tracker(void)
{
    const char *why;
    cr_assert_eq(prefix_parse("203.0.113.10", &sensor_prefixes[0], &why), 0);
    cr_assert_eq(prefix_parse("2001:db8:5::10", &sensor_prefixes[1], &why), 0);
    cc = (struct capturer_config){.flow_timeout = 60, .max_flow_age = 600, .max_flows = 16, .max_flow_packets = 100,
                                  .max_flow_bytes = 1 << 20, .memory_limit = 1 << 24};
    memset(&sink, 0, sizeof sink);
}

static void start(void)
{
    cr_assert_eq(tracker_init(&tr, &cc, sensor_prefixes, 2, DLT_EN10MB, test_key, collect, &sink), 0);
}

static void stop(void)
{
    sink_free(&sink);
    tracker_destroy(&tr);
}

static void feed(const struct test_frame *f, uint64_t now)
{
    tracker_packet(&tr, 1700000000000000ull + now, f->bytes, f->len, f->len, now);
}

/* One IPv4 frame (tf_ipv4's arguments) fed at now. */
static void feed_ipv4(const char *src, const char *dst, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t flags,
                      uint32_t seq, uint32_t ack, uint32_t payload_len, uint64_t now)
{
    struct test_frame f;
    tf_ipv4(&f, src, dst, proto, sport, dport, flags, seq, ack, payload_len);
    feed(&f, now);
}

static void syn_from(uint16_t sport, uint64_t now)
{
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_TCP, sport, 80, TCPF_SYN, 1000, 0, 0, now);
}

TestSuite(capturer_tracker, .init = setup_tracker, .fini = stop);

Test(capturer_tracker, both_directions_make_one_flow)
{
    start();
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_SYN, 1000, 0, 0, 0);
    feed_ipv4("203.0.113.10", "198.51.100.2", IPPROTO_TCP, 80, 40000, TCPF_SYN | TCPF_ACK, 777, 1001, 0, 10);
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_ACK, 1001, 778, 0, 20);
    cr_assert_eq(tr.table.count, 1);
    struct flow *fl = flow_table_oldest(&tr.table);
    cr_assert_eq(fl->packets, 3);
    cr_assert_eq(fl->key.remote_port, 40000);
    cr_assert_eq(fl->key.local_port, 80);
    tracker_finish_all(&tr);
    cr_assert_eq(sink.n, 1);
    cr_assert(sink.flows[0]->flags & FLOW_EARLY);
    cr_assert_eq(tr.stats.finished[FINISH_SHUTDOWN], 1);
}

Test(capturer_tracker, idle_flows_expire_exactly_at_timeout_oldest_first)
{
    start();
    syn_from(1, 0);
    syn_from(2, 5000000);
    syn_from(1, 10000000); /* flow 1 active again: now newer than flow 2 */
    tracker_expire(&tr, 64999999 + FLOW_EXPIRY_SLACK_US);
    cr_assert_eq(sink.n, 0, "flow 2 is idle 59.99s (and the slack)");
    cr_assert_eq(tracker_next_expiry(&tr), 65000000 + FLOW_EXPIRY_SLACK_US);
    tracker_expire(&tr, 65000000 + FLOW_EXPIRY_SLACK_US);
    cr_assert_eq(sink.n, 1);
    cr_assert_eq(sink.flows[0]->key.remote_port, 2);
    cr_assert_not(sink.flows[0]->flags & FLOW_EARLY);
    tracker_expire(&tr, 70000000 + FLOW_EXPIRY_SLACK_US);
    cr_assert_eq(sink.n, 2);
    cr_assert_eq(sink.flows[1]->key.remote_port, 1);
    cr_assert_eq(sink.flows[1]->packets, 2);
    cr_assert_eq(tracker_next_expiry(&tr), UINT64_MAX);
    cr_assert_eq(tr.stats.finished[FINISH_IDLE], 2);
}

Test(capturer_tracker, max_flows_finishes_the_least_recently_active)
{
    start();
    for (uint16_t p = 1; p <= 16; p++)
        syn_from(p, p);
    syn_from(1, 100); /* flow 1 becomes the newest */
    cr_assert_eq(sink.n, 0);
    syn_from(17, 200);
    syn_from(18, 300);
    cr_assert_eq(sink.n, 2);
    cr_assert_eq(sink.flows[0]->key.remote_port, 2);
    cr_assert_eq(sink.flows[1]->key.remote_port, 3);
    cr_assert(sink.flows[0]->flags & FLOW_EARLY);
    cr_assert_eq(tr.table.count, 16);
    cr_assert_eq(tr.stats.finished[FINISH_MAX_FLOWS], 2);
    cr_assert_eq(tr.stats.flows_started, 18);
}

/* Under a SYN flood the table is full of flows without client data: making room finishes those, not the older
 * conversations (finishing one would split it in two pcaps), and the oldest conversation goes only when no flow
 * without data is left. */
Test(capturer_tracker, max_flows_finishes_flows_without_client_data_first)
{
    start();
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_TCP, 1, 80, TCPF_SYN, 1000, 0, 0, 1);
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_TCP, 1, 80, TCPF_ACK | TCPF_PSH, 1001, 1, 40, 2);
    for (uint16_t p = 2; p <= 16; p++)
        syn_from(p, 10 + p); /* the flood: newer, no data */
    syn_from(17, 100);
    syn_from(18, 101);
    cr_assert_eq(sink.n, 2);
    cr_assert_eq(sink.flows[0]->key.remote_port, 2, "the oldest flow without data, not the older conversation");
    cr_assert_eq(sink.flows[1]->key.remote_port, 3);
    cr_assert_not(sink.flows[0]->flags & FLOW_CLIENT_DATA);
    /* data turns flow 17 into a conversation; the rest of the flood goes first, then the oldest conversation */
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_TCP, 17, 80, TCPF_ACK | TCPF_PSH, 1001, 1, 10, 102);
    for (uint16_t p = 19; p <= 32; p++)
        syn_from(p, 100 + p);
    cr_assert_eq(sink.n, 16);
    for (size_t i = 0; i < sink.n; i++)
        cr_assert_not(sink.flows[i]->flags & FLOW_CLIENT_DATA, "flow %u", sink.flows[i]->key.remote_port);
    cr_assert_eq(sink.flows[15]->key.remote_port, 18, "flow 18, older than 17's data, went before 19");
    /* only conversations left: the oldest of them goes */
    for (uint16_t p = 19; p <= 32; p++)
        feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_TCP, p, 80, TCPF_ACK | TCPF_PSH, 1001, 1, 10, 200 + p);
    syn_from(33, 300);
    cr_assert_eq(sink.n, 17);
    cr_assert_eq(sink.flows[16]->key.remote_port, 1);
    cr_assert(sink.flows[16]->flags & FLOW_CLIENT_DATA);
    cr_assert_eq(tr.table.count, 16);
    cr_assert_eq(tr.stats.finished[FINISH_MAX_FLOWS], 17);
}

Test(capturer_tracker, packet_cap_cuts_and_marks_truncated)
{
    cc.max_flow_packets = 3;
    start();
    for (int i = 0; i < 7; i++)
        syn_from(5, (uint64_t)i);
    cr_assert_eq(sink.n, 2);
    cr_assert_eq(sink.flows[0]->packets, 3);
    cr_assert(sink.flows[0]->flags & FLOW_TRUNCATED);
    cr_assert_eq(flow_table_oldest(&tr.table)->packets, 1, "the 7th packet starts a new flow");
    cr_assert_eq(tr.stats.finished[FINISH_CUT_PACKETS], 2);
}

Test(capturer_tracker, byte_cap_cuts_the_last_packet_short)
{
    cc.max_flow_bytes = 1000;
    start();
    struct test_frame f;
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_ACK, 1, 1, 400 - 54);
    for (int i = 0; i < 3; i++)
        feed(&f, (uint64_t)i);
    cr_assert_eq(sink.n, 1);
    struct flow *fl = sink.flows[0];
    cr_assert(fl->flags & FLOW_TRUNCATED);
    cr_assert_eq(fl->records_len - fl->packets * 16u, 1000, "exactly max_flow_bytes kept");
    uint32_t caplen, len;
    memcpy(&caplen, fl->records + 2 * (16 + 400) + 8, 4);
    memcpy(&len, fl->records + 2 * (16 + 400) + 12, 4);
    cr_assert_eq(caplen, 200);
    cr_assert_eq(len, 400);
}

Test(capturer_tracker, memory_limit_finishes_oldest_flows)
{
    cc.memory_limit = 3 * FLOW_RECORDS_KEEP; /* each SYN's flow holds the first buffer */
    start();
    for (uint16_t p = 1; p <= 5; p++)
        syn_from(p, p);
    cr_assert_eq(sink.n, 2);
    cr_assert_eq(sink.flows[0]->key.remote_port, 1);
    cr_assert_eq(sink.flows[1]->key.remote_port, 2);
    cr_assert_leq(tr.table.memory, cc.memory_limit);
    cr_assert_eq(tr.stats.finished[FINISH_MEMORY], 2);
}

Test(capturer_tracker, max_age_finishes_at_next_packet)
{
    cc.flow_timeout = 10;
    cc.max_flow_age = 20;
    start();
    for (uint64_t t = 0; t <= 25; t += 5)
        syn_from(9, t * 1000000);
    cr_assert_eq(sink.n, 1);
    cr_assert_eq(sink.flows[0]->packets, 4, "packets at 0,5,10,15s; the one at 20s opens a new flow");
    cr_assert_eq(tr.stats.finished[FINISH_AGED], 1);
}

Test(capturer_tracker, icmp_echo_and_reply_share_a_flow)
{
    start();
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_ICMP, 8, 0, 0, 0, 0, 16, 0);
    feed_ipv4("203.0.113.10", "198.51.100.2", IPPROTO_ICMP, 0, 0, 0, 0, 0, 16, 1);
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_ICMP, 13, 0, 0, 0, 0, 16, 2);
    cr_assert_eq(tr.table.count, 2);
    cr_assert_eq(flow_table_oldest(&tr.table)->packets, 2);
    cr_assert_eq(flow_table_oldest(&tr.table)->key.remote_port, 8);
}

Test(capturer_tracker, ipv6_with_extension_headers)
{
    start();
    struct test_frame f;
    tf_ipv6_ext(&f, "2001:db8:a::2", "2001:db8:5::10", IPPROTO_TCP, 5555, 443, TCPF_SYN);
    feed(&f, 0);
    tf_ipv6_ext(&f, "2001:db8:5::10", "2001:db8:a::2", IPPROTO_TCP, 443, 5555, TCPF_SYN | TCPF_ACK);
    feed(&f, 1);
    cr_assert_eq(tr.table.count, 1);
    struct flow *fl = flow_table_oldest(&tr.table);
    cr_assert_eq(fl->key.family, AF_INET6);
    cr_assert_eq(fl->key.remote_port, 5555);
    cr_assert_eq(fl->key.local_port, 443);
    cr_assert_eq(fl->packets, 2);
    cr_assert_eq(tr.stats.malformed, 0);
}

Test(capturer_tracker, truncated_and_garbage_packets_are_bounded)
{
    start();
    struct test_frame f;
    tf_ipv6_ext(&f, "2001:db8:a::2", "2001:db8:5::10", IPPROTO_TCP, 5555, 443, TCPF_SYN);
    /* every prefix of a valid frame: never a read past caplen (ASan checks), short ones are malformed */
    for (uint32_t len = 0; len <= f.len; len++)
        tracker_packet(&tr, 1, f.bytes, len, f.len, 1);
    cr_assert_gt(tr.stats.malformed, 0);
    /* an extension header that claims more than the packet holds */
    f.bytes[14 + 40 + 1] = 255;
    tracker_packet(&tr, 1, f.bytes, f.len, f.len, 2);
    /* IPv4 header length smaller than 20 */
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_UDP, 53, 53, 0, 0, 0, 0);
    f.bytes[14] = 0x41;
    uint64_t before = tr.stats.malformed;
    tracker_packet(&tr, 1, f.bytes, f.len, f.len, 3);
    cr_assert_eq(tr.stats.malformed, before + 1);
}

/* Only flows an outsider starts are recorded (origin.h): the sensor host's own traffic leaves nothing. */
TestSuite(capturer_origin, .init = setup_tracker, .fini = stop);

static void tcp4(const char *src, const char *dst, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
                 uint32_t ack, uint32_t len, uint64_t now)
{
    feed_ipv4(src, dst, IPPROTO_TCP, sport, dport, flags, seq, ack, len, now);
}

/* An ICMPv4 error from `from` to the sensor quoting the IP packet of frame q (its first 28 bytes, as routers do). */
static void icmp_error_quoting(const char *from, const char *to, const struct test_frame *q, uint64_t now)
{
    struct test_frame f;
    tf_ipv4(&f, from, to, IPPROTO_ICMP, 3, 3, 0, 0, 0, 28);
    memcpy(f.bytes + 14 + 20 + 8, q->bytes + 14, 28);
    feed(&f, now);
}

Test(capturer_origin, a_connection_the_host_starts_is_never_recorded)
{
    start();
    tcp4("203.0.113.10", "198.51.100.7", 45000, 80, TCPF_SYN, 1, 0, 0, 0);
    tcp4("198.51.100.7", "203.0.113.10", 80, 45000, TCPF_SYN | TCPF_ACK, 500, 2, 0, 1);
    tcp4("203.0.113.10", "198.51.100.7", 45000, 80, TCPF_ACK, 2, 501, 100, 2);
    tcp4("198.51.100.7", "203.0.113.10", 80, 45000, TCPF_ACK, 501, 102, 1000, 3);
    tracker_finish_all(&tr);
    cr_assert_eq(sink.n, 0);
    cr_assert_eq(tr.stats.flows_started, 0);
    cr_assert_eq(tr.stats.flows_ignored_local, 1);
    cr_assert_eq(tr.stats.packets_ignored_local, 4);
    cr_assert_eq(tr.table.count, 0);
    cr_assert_eq(tr.table.memory, 0);
}

Test(capturer_origin, the_host_s_udp_query_and_ping_are_ignored_an_outsider_s_are_recorded)
{
    start();
    feed_ipv4("203.0.113.10", "198.51.100.53", IPPROTO_UDP, 40001, 53, 0, 0, 0, 30, 0);
    feed_ipv4("198.51.100.53", "203.0.113.10", IPPROTO_UDP, 53, 40001, 0, 0, 0, 60, 1);
    feed_ipv4("203.0.113.10", "198.51.100.9", IPPROTO_ICMP, 8, 0, 0, 0, 0, 56, 2);
    feed_ipv4("198.51.100.9", "203.0.113.10", IPPROTO_ICMP, 0, 0, 0, 0, 0, 56, 3);
    cr_assert_eq(tr.table.count, 0);
    cr_assert_eq(tr.stats.flows_ignored_local, 2);
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_UDP, 5000, 40001, 0, 0, 0, 10, 4);
    feed_ipv4("198.51.100.2", "203.0.113.10", IPPROTO_ICMP, 8, 0, 0, 0, 0, 56, 5);
    feed_ipv4("203.0.113.10", "198.51.100.2", IPPROTO_ICMP, 0, 0, 0, 0, 0, 56, 6);
    cr_assert_eq(tr.table.count, 2, "the outsider's datagram (even to an ephemeral port) and ping");
    tracker_finish_all(&tr);
    cr_assert_eq(sink.n, 2);
    cr_assert_eq(sink.flows[1]->packets, 2, "echo and reply in one flow");
}

Test(capturer_origin, a_first_packet_mid_stream_is_the_host_s_only_on_an_ephemeral_port_without_a_cookie)
{
    start();
    static const uint8_t key[16] = "cookie-key-12345";
    tr.cookie_key = key;
    tcp4("198.51.100.7", "203.0.113.10", 80, 45000, TCPF_ACK, 501, 102, 1000, 0);   /* host's download, restarted */
    tcp4("203.0.113.10", "198.51.100.7", 45001, 443, TCPF_ACK, 5, 6, 100, 1);      /* host's upload, restarted */
    cr_assert_eq(tr.table.count, 0);
    tcp4("198.51.100.3", "203.0.113.10", 1234, 8080, TCPF_ACK, 1, 2, 0, 2);        /* ACK scan */
    tcp4("203.0.113.10", "198.51.100.3", 22, 1234, TCPF_ACK, 1, 2, 0, 3);          /* a served connection */
    struct ip_addr client, sensor;
    uint8_t a[4] = {198, 51, 100, 4}, b[4] = {203, 0, 113, 10};
    ip_addr_from_v4(&client, a);
    ip_addr_from_v4(&sensor, b);
    uint32_t isn = syncookie_isn(key, &client, &sensor, 4321, 50000, syncookie_coarse_now());
    tcp4("198.51.100.4", "203.0.113.10", 4321, 50000, TCPF_ACK, 1, isn + 1, 20, 4); /* data after a restart */
    tcp4("198.51.100.4", "203.0.113.10", 4322, 50000, TCPF_ACK, 1, isn + 1, 20, 5); /* not its cookie */
    cr_assert_eq(tr.table.count, 3);
    cr_assert_eq(tr.stats.flows_ignored_local, 3);
    struct flow_key k = {.family = AF_INET, .proto = IPPROTO_TCP, .remote_port = 4321, .local_port = 50000};
    memcpy(k.remote, client.bytes, 16);
    memcpy(k.local, sensor.bytes, 16);
    cr_assert_not_null(flow_table_lookup(&tr.table, &k));
}

Test(capturer_origin, icmp_errors_belong_to_whoever_sent_the_packet_they_quote)
{
    start();
    struct test_frame q;
    /* the host's UDP query, and the port unreachable it earns */
    tf_ipv4(&q, "203.0.113.10", "198.51.100.53", IPPROTO_UDP, 40001, 53, 0, 0, 0, 30);
    feed(&q, 0);
    icmp_error_quoting("198.51.100.53", "203.0.113.10", &q, 1);
    cr_assert_eq(tr.table.count, 0);
    cr_assert_eq(tr.stats.flows_ignored_local, 2);
    /* an unreachable about our SYN+ACK to a (spoofed) outsider: part of the outsider's business */
    tcp4("198.51.100.66", "203.0.113.10", 1111, 80, TCPF_SYN, 1, 0, 0, 2);
    tf_ipv4(&q, "203.0.113.10", "198.51.100.66", IPPROTO_TCP, 80, 1111, TCPF_SYN | TCPF_ACK, 9, 2, 0);
    feed(&q, 3);
    icmp_error_quoting("198.51.100.1", "203.0.113.10", &q, 4);
    cr_assert_eq(tr.table.count, 2);
    /* an error quoting a packet from outside (not the host's) */
    tf_ipv4(&q, "198.51.100.70", "198.51.100.71", IPPROTO_UDP, 1, 2, 0, 0, 0, 0);
    icmp_error_quoting("198.51.100.1", "203.0.113.10", &q, 5);
    cr_assert_eq(tr.table.count, 2, "same ICMP flow as the previous error from 198.51.100.1");
    cr_assert_eq(tr.stats.flows_ignored_local, 2);
    /* the host's own port unreachable for an outsider's datagram: the host's message, not recorded */
    tf_ipv4(&q, "198.51.100.2", "203.0.113.10", IPPROTO_UDP, 5353, 9, 0, 0, 0, 4);
    feed(&q, 6);
    icmp_error_quoting("203.0.113.10", "198.51.100.2", &q, 7);
    cr_assert_eq(tr.table.count, 3, "the datagram's flow, nothing more");
    cr_assert_eq(tr.stats.flows_ignored_local, 3);
}

Test(capturer_origin, a_cut_flow_continues_whatever_the_direction_of_its_next_packet)
{
    cc.max_flow_packets = 2;
    start();
    tcp4("198.51.100.2", "203.0.113.10", 1234, 50000, TCPF_SYN, 1, 0, 0, 0);
    tcp4("203.0.113.10", "198.51.100.2", 50000, 1234, TCPF_SYN | TCPF_ACK, 9, 2, 0, 1);
    cr_assert_eq(sink.n, 1, "cut at 2 packets");
    tcp4("203.0.113.10", "198.51.100.2", 50000, 1234, TCPF_ACK, 10, 30, 0, 2); /* ours, to an ephemeral port */
    tcp4("198.51.100.2", "203.0.113.10", 1234, 50000, TCPF_ACK, 30, 10, 0, 3);
    cr_assert_eq(sink.n, 2, "the continuation is recorded too");
    cr_assert_eq(tr.stats.flows_ignored_local, 0);
}

Test(capturer_origin, ignored_entries_expire_and_are_bounded_by_max_flows)
{
    start();
    for (uint16_t i = 0; i < 100; i++)
        tcp4("203.0.113.10", "198.51.100.7", (uint16_t)(40000 + i), 443, TCPF_SYN, 1, 0, 0, i);
    cr_assert_eq(tr.aside.count, cc.max_flows);
    cr_assert_eq(tr.stats.flows_ignored_local, 100);
    tracker_expire(&tr, 99 + 60000000u + FLOW_EXPIRY_SLACK_US);
    cr_assert_eq(tr.aside.count, 0);
    cr_assert_eq(tracker_next_expiry(&tr), UINT64_MAX);
}

Test(capturer_decode, ephemeral_port_range_is_parsed_strictly)
{
    struct port_range r = {0, 0};
    cr_assert(ephemeral_ports_parse("32768\t60999\n", &r));
    cr_assert_eq(r.lo, 32768);
    cr_assert_eq(r.hi, 60999);
    cr_assert_not(ephemeral_ports_parse("60999 32768", &r));
    cr_assert_not(ephemeral_ports_parse("0 10", &r));
    cr_assert_not(ephemeral_ports_parse("1 70000", &r));
    cr_assert_not(ephemeral_ports_parse("1 2 3", &r));
    struct port_range now = ephemeral_ports_read();
    cr_assert_leq(now.lo, now.hi);
}
