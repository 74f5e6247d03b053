/* capturer/writer: finished flows handed to the writer thread become spool files that libpcap (pcap_open_offline, an
 * independent reader) reads back packet for packet, each announced in the queue under the name it was given; a full
 * backlog drops a flow and counts it, and a forced hand-over (shutdown) is written whatever the backlog. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../capturer/tracker.h"
#include "../../../capturer/writer.h"
#include "../../helpers/capturer_packets.h"
#include "../../helpers/capturer_spool_fixture.h"
#include "pcapfile.h"
#include "queue.h"

static struct prefix sensor;
static struct spool spool;
static struct tracker tr;
static struct writer writer;
static struct spool_fixture fx;
static struct lurker_queue *q = &fx.queue;
static bool force;

static void to_writer(void *arg, struct flow *f)
{
    writer_submit(arg, f, force);
}

static void setup(void)
{
    spool_fixture_setup(&fx, "writer", 64);
    const char *why;
    cr_assert_eq(prefix_parse("203.0.113.10", &sensor, &why), 0);
    force = false;
}

static void teardown(void)
{
    spool_fixture_teardown(&fx);
}

static void start(uint32_t max_backlog_flows)
{
    char err[256];
    cr_assert_eq(spool_open(&spool, fx.dir, 1 << 30, PCAPFILE_LINKTYPE_ETHERNET, 65535, q, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(writer_start(&writer, &spool, NULL, NULL, max_backlog_flows, 1 << 26), 0);
    cr_assert_eq(tracker_init(&tr, &fx.cc, &sensor, 1, DLT_EN10MB, (const uint8_t *)"0123456789abcdef", to_writer,
                              &writer), 0);
}

static void stop(void)
{
    writer_stop(&writer);
    tracker_destroy(&tr);
    spool_close(&spool);
}

/* A TCP conversation of n packets from 198.51.100.2:sport, 1 ms apart; frames[i] what was fed. */
static void conversation(uint16_t sport, uint64_t ts, struct test_frame *frames, int n)
{
    for (int i = 0; i < n; i++) {
        if (i % 2 == 0)
            tf_ipv4(&frames[i], "198.51.100.2", "203.0.113.10", IPPROTO_TCP, sport, 80, i ? TCPF_ACK : TCPF_SYN,
                    1000 + (uint32_t)i, 0, (uint32_t)(10 * i));
        else
            tf_ipv4(&frames[i], "203.0.113.10", "198.51.100.2", IPPROTO_TCP, 80, sport, TCPF_SYN | TCPF_ACK, 5000,
                    1001, 0);
        tracker_packet(&tr, ts + 1000u * (uint64_t)i, frames[i].bytes, frames[i].len, frames[i].len,
                       ts + 1000u * (uint64_t)i);
    }
}

/* The file, read by libpcap: every packet's time and bytes as fed. */
static void assert_file_holds(const char *name, uint64_t ts, const struct test_frame *frames, int n)
{
    char path[256], errbuf[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/%s", fx.dir, name);
    pcap_t *p = pcap_open_offline(path, errbuf);
    cr_assert_not_null(p, "%s: %s", path, errbuf);
    cr_assert_eq(pcap_datalink(p), DLT_EN10MB);
    cr_assert_eq(pcap_snapshot(p), 65535);
    struct pcap_pkthdr *h;
    const u_char *data;
    int i = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
        cr_assert_lt(i, n, "%s: more packets than fed", name);
        uint64_t at = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        cr_assert_eq(at, ts + 1000u * (uint64_t)i, "%s packet %d", name, i);
        cr_assert_eq(h->caplen, frames[i].len);
        cr_assert_eq(h->len, frames[i].len);
        cr_assert_eq(memcmp(data, frames[i].bytes, h->caplen), 0, "%s packet %d", name, i);
        i++;
    }
    cr_assert_eq(i, n, "%s: %d packets read back, %d fed", name, i, n);
    pcap_close(p);
}

TestSuite(capturer_writer, .init = setup, .fini = teardown);

Test(capturer_writer, finished_flows_become_pcaps_libpcap_reads_back_and_are_announced)
{
    start(1000);
    static struct test_frame a[5], b[2];
    conversation(40000, 1700000000000001ull, a, 5);
    conversation(40001, 1700000000500000ull, b, 2);
    tracker_finish_all(&tr);
    stop();
    cr_assert_eq(spool.stats.written, 2);
    const char *name_a = "1700000000000001_tcp_198.51.100.2_40000_203.0.113.10_80.pcap";
    const char *name_b = "1700000000500000_tcp_198.51.100.2_40001_203.0.113.10_80.pcap";
    assert_file_holds(name_a, 1700000000000001ull, a, 5);
    assert_file_holds(name_b, 1700000000500000ull, b, 2);
    struct queue_record rec;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(queue_peek(q, &rec), QUEUE_OK);
        queue_commit(q, rec.seq);
        cr_assert(queue_record_valid(&rec));
        bool is_a = strcmp(rec.name, name_a) == 0;
        cr_assert(is_a || strcmp(rec.name, name_b) == 0, "%s", rec.name);
        cr_assert_eq(rec.packets, is_a ? 5 : 2);
        cr_assert_eq(rec.key.id.remote_port, is_a ? 40000 : 40001);
        cr_assert_eq(rec.flags & FLOW_EARLY, FLOW_EARLY, "finished at shutdown");
    }
    cr_assert_eq(queue_peek(q, &rec), QUEUE_EMPTY);
}

Test(capturer_writer, a_full_backlog_drops_and_counts_but_shutdown_writes_everything)
{
    start(0); /* no room at all: every ordinary hand-over is refused */
    static struct test_frame a[2], b[3];
    conversation(40000, 1700000000000001ull, a, 2);
    tracker_finish_all(&tr);
    cr_assert_eq(writer.dropped_backlog, 1);
    force = true; /* shutdown: the bound is lifted */
    conversation(40002, 1700000001000000ull, b, 3);
    tracker_finish_all(&tr);
    stop();
    cr_assert_eq(writer.dropped_backlog, 1);
    cr_assert_eq(spool.stats.written, 1);
    char path[256];
    snprintf(path, sizeof path, "%s/1700000000000001_tcp_198.51.100.2_40000_203.0.113.10_80.pcap", fx.dir);
    cr_assert_neq(access(path, F_OK), 0, "the dropped flow has no file");
    assert_file_holds("1700000001000000_tcp_198.51.100.2_40002_203.0.113.10_80.pcap", 1700000001000000ull, b, 3);
}
