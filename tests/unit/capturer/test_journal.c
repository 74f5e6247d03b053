/* Capturer: the crash journal. Record and segment-header format (round trip, every kind of damage), then the whole
 * path without threads: tracker -> journal -> "kill" (the files are left as a killed process leaves them) -> a new
 * spool recovers every open flow under the name it would have had, skips flows with a FLOW_DONE, survives a cut
 * tail, is idempotent when run twice; segments rotate and are deleted only when no open flow needs them; the
 * journal's bound. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "../../../capturer/journal.h"
#include "../../../capturer/journal_format.h"
#include "../../../capturer/recover.h"
#include "../../../capturer/replay.h"
#include "../../../capturer/spool.h"
#include "../../../capturer/tracker.h"
#include "../../helpers/capturer_packets.h"
#include "../../helpers/capturer_spool_fixture.h"
#include "pcap/pcap.h"
#include "pcapfile.h"
#include "queue.h"

/* ---- format ---------------------------------------------------------------------------------------------------- */

Test(capturer_journal_format, packet_record_round_trip_and_damage)
{
    uint8_t buf[JREC_HEADER_LEN + 5];
    jrec_header_encode(buf, JREC_PACKET, 42, 1700000000123456ull, 5, 60);
    memcpy(buf + JREC_HEADER_LEN, "hello", 5);
    struct jrec r;
    size_t used = 0;
    cr_assert_eq(jrec_parse(buf, sizeof buf, &r, &used), JREC_OK);
    cr_assert_eq(used, sizeof buf);
    cr_assert_eq(r.type, JREC_PACKET);
    cr_assert_eq(r.serial, 42);
    cr_assert_eq(r.ts_us, 1700000000123456ull);
    cr_assert_eq(r.len, 5);
    cr_assert_eq(r.origlen, 60);
    cr_assert_eq(memcmp(r.data, "hello", 5), 0);

    cr_assert_eq(jrec_parse(buf, 0, &r, &used), JREC_END);
    for (size_t cut = 1; cut < sizeof buf; cut++) /* a record cut anywhere */
        cr_assert_eq(jrec_parse(buf, cut, &r, &used), JREC_BAD, "cut at %zu", cut);
    for (size_t i = 0; i < JREC_HEADER_LEN; i++) { /* any header byte damaged */
        uint8_t bad[sizeof buf];
        memcpy(bad, buf, sizeof buf);
        bad[i] ^= 0x40;
        cr_assert_eq(jrec_parse(bad, sizeof bad, &r, &used), JREC_BAD, "byte %zu", i);
    }
    uint8_t zeros[64] = {0};
    cr_assert_eq(jrec_parse(zeros, sizeof zeros, &r, &used), JREC_BAD);

    /* well-formed headers with values the writer never produces */
    uint8_t h[JREC_HEADER_LEN + 200];
    memset(h, 'x', sizeof h);
    jrec_header_encode(h, JREC_PACKET, 0, 1, 1, 1); /* serial 0 */
    cr_assert_eq(jrec_parse(h, sizeof h, &r, &used), JREC_BAD);
    jrec_header_encode(h, JREC_PACKET, 1, 1, 10, 5); /* caplen > origlen */
    cr_assert_eq(jrec_parse(h, sizeof h, &r, &used), JREC_BAD);
    jrec_header_encode(h, JREC_PACKET, 1, 1, JREC_MAX_CAPLEN + 1, UINT32_MAX);
    cr_assert_eq(jrec_parse(h, sizeof h, &r, &used), JREC_BAD);
    jrec_header_encode(h, JREC_FLOW_DONE, 1, 0, 0, 0); /* empty name */
    cr_assert_eq(jrec_parse(h, sizeof h, &r, &used), JREC_BAD);
    jrec_header_encode(h, JREC_FLOW_DONE, 1, 0, JREC_MAX_NAME + 1, 0);
    cr_assert_eq(jrec_parse(h, sizeof h, &r, &used), JREC_BAD);
    jrec_header_encode(h, (enum jrec_type)7, 1, 0, 4, 4);
    cr_assert_eq(jrec_parse(h, sizeof h, &r, &used), JREC_BAD);
    jrec_header_encode(h, JREC_FLOW_DONE, 9, 0, 4, 0);
    cr_assert_eq(jrec_parse(h, sizeof h, &r, &used), JREC_OK);
    cr_assert_eq(r.type, JREC_FLOW_DONE);
    cr_assert_eq(used, JREC_HEADER_LEN + 4);
}

Test(capturer_journal_format, segment_header_round_trip_and_damage)
{
    struct jseg_header h = {.version = JSEG_VERSION, .dlt = DLT_EN10MB, .linktype = 1, .snaplen = 65535,
                            .pid = 1234, .run_id = 0x1122334455667788ull, .seq = 7, .start_us = 1700000000000000ull};
    uint8_t buf[JSEG_HEADER_LEN];
    jseg_header_encode(buf, &h);
    struct jseg_header out;
    cr_assert(jseg_header_parse(buf, sizeof buf, &out));
    cr_assert_eq(out.dlt, DLT_EN10MB);
    cr_assert_eq(out.pid, 1234);
    cr_assert_eq(out.run_id, h.run_id);
    cr_assert_eq(out.seq, 7);
    cr_assert_eq(out.start_us, h.start_us);
    cr_assert_not(jseg_header_parse(buf, sizeof buf - 1, &out));
    for (size_t i = 0; i < sizeof buf; i++) {
        uint8_t bad[sizeof buf];
        memcpy(bad, buf, sizeof buf);
        bad[i] ^= 1;
        cr_assert_not(jseg_header_parse(bad, sizeof bad, &out), "byte %zu", i);
    }
}

/* ---- the whole path -------------------------------------------------------------------------------------------- */

static struct prefix sensor[1];
static struct spool_fixture fx;
static struct lurker_queue *q = &fx.queue;

struct run {
    struct spool spool;
    struct journal journal;
    struct tracker tr;
};

static void to_spool(void *arg, struct flow *f)
{
    spool_add(arg, f);
}

static void done_now(void *arg, uint64_t serial, uint32_t seg, const char *name)
{
    journal_flow_done(arg, serial, seg, name);
}

static void setup(void)
{
    spool_fixture_setup(&fx, "journal", 1024);
    const char *why;
    cr_assert_eq(prefix_parse("203.0.113.10", &sensor[0], &why), 0);
    fx.cc.max_flow_packets = 4;
}

static void teardown(void)
{
    spool_fixture_teardown(&fx);
}

TestSuite(capturer_journal, .init = setup, .fini = teardown);

static void begin(struct run *r, uint64_t now_us)
{
    cr_assert_eq(journal_start(&r->journal, now_us), 0);
    r->spool.done = done_now;
    r->spool.done_arg = &r->journal;
    cr_assert_eq(tracker_init(&r->tr, &fx.cc, sensor, 1, DLT_EN10MB, (const uint8_t *)"0123456789abcdef", to_spool,
                              &r->spool),
                 0);
    r->tr.journal = &r->journal;
}

/* A capturer's start: spool, journal, recovery of whatever is there, then its own segment. With adopt_us, as
 * lurker-capturer does it: its own segment first, then recovery, which puts the dead run's open flows back into the
 * flow table (journaled again) at wall-clock time adopt_us. Monotonic time is the packets' here. */
static void start(struct run *r, uint64_t journal_max, uint64_t adopt_us, struct recover_stats *st)
{
    char err[256];
    cr_assert_eq(spool_open(&r->spool, fx.dir, 1ull << 30, PCAPFILE_LINKTYPE_ETHERNET, 65535, q, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(journal_open(&r->journal, r->spool.dirfd, true, journal_max, DLT_EN10MB, PCAPFILE_LINKTYPE_ETHERNET,
                              65535, err, sizeof err),
                 0, "%s", err);
    if (adopt_us != 0)
        begin(r, adopt_us);
    struct recover_stats ignored;
    const struct replay_limits limits = {.memory_limit = fx.cc.memory_limit,
                                         .max_flow_packets = fx.cc.max_flow_packets,
                                         .max_flow_bytes = fx.cc.max_flow_bytes};
    const struct recover_adopt adopt = {.tr = &r->tr, .now_mono_us = adopt_us, .now_real_us = adopt_us};
    cr_assert_eq(recover_journal(r->journal.dirfd, &r->spool, sensor, 1, &limits, adopt_us ? &adopt : NULL,
                                 st ? st : &ignored),
                 0);
    if (adopt_us == 0)
        begin(r, 1);
}

/* What kill -9 leaves: the journal's files as last written (the main loop's periodic write included), nothing
 * closed or deleted. */
static void kill9(struct run *r)
{
    journal_flush(&r->journal, 2);
    close(r->journal.fd);
    close(r->journal.dirfd);
    free(r->journal.buf);
    free(r->journal.segs);
    free(r->journal.done);
    pthread_mutex_destroy(&r->journal.done_lock);
    tracker_destroy(&r->tr);
    r->spool.npending = 0; /* flows handed to the writer die with the process */
    close(r->spool.dirfd);
}

static void clean_stop(struct run *r)
{
    tracker_finish_all(&r->tr);
    spool_flush(&r->spool);
    journal_close(&r->journal);
    tracker_destroy(&r->tr);
    spool_close(&r->spool);
}

static void feed(struct run *r, const struct test_frame *f, uint64_t ts)
{
    tracker_packet(&r->tr, ts, f->bytes, f->len, f->len, ts);
}

static bool exists(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fx.dir, name);
    return access(path, F_OK) == 0;
}

static void remove_pcap(const char *name) /* the shipper stored it */
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fx.dir, name);
    cr_assert_eq(unlink(path), 0);
}

#define A_NAME "1700000000000001_tcp_198.51.100.2_40000_203.0.113.10_80.pcap"
#define B_NAME "1700000000000010_udp_198.51.100.2_5353_203.0.113.10_53.pcap"
#define C1_NAME "1700000000000020_udp_198.51.100.3_7000_203.0.113.10_7.pcap"
#define C2_NAME "1700000000000024_udp_198.51.100.3_7000_203.0.113.10_7.pcap"

/* A: TCP handshake + data */
static void flow_a(struct run *r)
{
    struct test_frame f;
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_SYN, 1000, 0, 0);
    feed(r, &f, 1700000000000001ull);
    tf_ipv4(&f, "203.0.113.10", "198.51.100.2", IPPROTO_TCP, 80, 40000, TCPF_SYN | TCPF_ACK, 5000, 1001, 0);
    feed(r, &f, 1700000000000002ull);
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_ACK, 1001, 5001, 78);
    feed(r, &f, 1700000000000003ull);
}

/* A: TCP handshake + data (open); B: one UDP datagram (open); C: six datagrams of one tuple, cut at 4 packets:
 * C1 written (FLOW_DONE), C2 (2 packets) open. */
static void traffic(struct run *r)
{
    struct test_frame f;
    flow_a(r);
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_UDP, 5353, 53, 0, 0, 0, 30);
    feed(r, &f, 1700000000000010ull);
    tf_ipv4(&f, "198.51.100.3", "203.0.113.10", IPPROTO_UDP, 7000, 7, 0, 0, 0, 10);
    for (uint64_t i = 0; i < 6; i++)
        feed(r, &f, 1700000000000020ull + i);
    spool_flush(&r->spool); /* C1 durable: its FLOW_DONE goes into the journal */
}

Test(capturer_journal, killed_run_open_flows_are_recovered_under_their_names)
{
    struct run a;
    start(&a, 64 << 20, 0, NULL);
    traffic(&a);
    cr_assert(exists(C1_NAME));
    cr_assert_eq(a.journal.stats.dropped, 0);
    kill9(&a);
    cr_assert_eq(fx_count(&fx, ".journal", ".jrnl"), 1);
    remove_pcap(C1_NAME);
    struct queue_record old;
    while (queue_peek(q, &old) == QUEUE_OK)
        queue_commit(q, old.seq);

    struct run b;
    struct recover_stats st;
    start(&b, 64 << 20, 0, &st);
    cr_assert_eq(st.runs, 1);
    cr_assert_eq(st.segments, 1);
    cr_assert_eq(st.flows_recovered, 3, "A, B, C2: %llu", (unsigned long long)st.flows_recovered);
    cr_assert_eq(st.flows_done, 1);
    cr_assert_eq(st.bad_tails, 0);
    cr_assert(exists(A_NAME));
    cr_assert(exists(B_NAME));
    cr_assert(exists(C2_NAME));
    cr_assert_not(exists(C1_NAME), "a flow with a FLOW_DONE is not written again");
    cr_assert_eq(fx_tcpdump(&fx, A_NAME, NULL, 0), 3);
    cr_assert_eq(fx_tcpdump(&fx, C2_NAME, NULL, 0), 2);
    /* the shipper is told */
    int seen = 0;
    struct queue_record rec;
    while (queue_peek(q, &rec) == QUEUE_OK) {
        queue_commit(q, rec.seq);
        cr_assert_eq(rec.flags & (FLOW_EARLY | FLOW_TRUNCATED), FLOW_EARLY | FLOW_TRUNCATED);
        if (strcmp(rec.name, A_NAME) == 0)
            cr_assert_eq(rec.packets, 3);
        seen++;
    }
    cr_assert_eq(seen, 3);
    /* the dead run's segment is gone; this run has its own */
    cr_assert_eq(fx_count(&fx, ".journal", ".jrnl"), 1);
    clean_stop(&b);
    cr_assert_eq(fx_count(&fx, ".journal", ".jrnl"), 0, "a clean stop leaves no journal");
}

static void copy_file(const char *from, const char *to)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", from, to);
    cr_assert_eq(system(cmd), 0);
}

static void only_segment(char *out, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/.journal", fx.dir);
    DIR *d = opendir(path);
    struct dirent *e;
    out[0] = '\0';
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".jrnl") && strlen(path) + strlen(e->d_name) + 2 <= len)
            snprintf(out, len, "%s/%.*s", path, 64, e->d_name);
    closedir(d);
    cr_assert_neq(out[0], '\0');
}

Test(capturer_journal, recovering_twice_writes_nothing_new_and_cut_tails_are_survived)
{
    struct run a;
    start(&a, 64 << 20, 0, NULL);
    traffic(&a);
    kill9(&a);
    char seg[512], saved[300];
    only_segment(seg, sizeof seg);
    snprintf(saved, sizeof saved, "%s/saved", fx.dir);
    copy_file(seg, saved);

    struct run b;
    struct recover_stats st;
    start(&b, 64 << 20, 0, &st);
    cr_assert_eq(st.flows_recovered, 3);
    kill9(&b); /* killed again; the first replay's segment is back, as if deleted too late */
    copy_file(saved, seg);
    struct run c;
    start(&c, 64 << 20, 0, &st);
    cr_assert_eq(st.flows_recovered, 0);
    cr_assert_eq(st.flows_present, 3, "same name, same bytes: left as it is");
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 4); /* A, B, C1, C2: no NAME-1.pcap */
    kill9(&c);

    /* the tail cut inside the last record (C1's FLOW_DONE), then garbage: as if the dead process renamed C1's pcap
     * but died before its FLOW_DONE reached the journal. A and C2 (deleted: shipped) come back; B and C1 are still
     * in the spool with the same bytes, so nothing is written twice */
    struct stat sb;
    cr_assert_eq(stat(saved, &sb), 0);
    copy_file(saved, seg);
    cr_assert_eq(truncate(seg, sb.st_size - 80), 0); /* into the record's header */
    FILE *fp = fopen(seg, "a");
    fputs("\x4c\x4a\x52\x31 not a record", fp);
    fclose(fp);
    remove_pcap(A_NAME);
    remove_pcap(C2_NAME);
    struct run d;
    start(&d, 64 << 20, 0, &st);
    cr_assert_eq(st.bad_tails, 1);
    cr_assert_eq(st.flows_done, 0);
    cr_assert_eq(st.flows_recovered, 2);
    cr_assert_eq(st.flows_present, 2);
    cr_assert(exists(A_NAME));
    cr_assert_eq(fx_tcpdump(&fx, C2_NAME, NULL, 0), 2);
    cr_assert_eq(fx_tcpdump(&fx, C1_NAME, NULL, 0), 4);
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 4);
    clean_stop(&d);
}

Test(capturer_journal, segments_are_deleted_only_when_no_open_flow_needs_them)
{
    fx.cc.max_flow_packets = 1; /* every packet of the short flows finishes its flow */
    struct run a;
    start(&a, 1 << 20, 0, NULL); /* 1 MiB: 128 KiB segments */
    struct test_frame f;
    /* a long-lived flow anchored in the first segment (the packet cap lifted for its first packet only) */
    a.tr.max_packets = 1000;
    tf_ipv4(&f, "198.51.100.9", "203.0.113.10", IPPROTO_TCP, 1234, 22, TCPF_SYN, 1, 0, 0);
    feed(&a, &f, 1700000000000000ull);
    a.tr.max_packets = 1;
    uint64_t now = 10;
    for (uint32_t i = 0; i < 2000; i++) {
        tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_UDP, (uint16_t)(1000 + i), 53, 0, 0, 0, 200);
        feed(&a, &f, 1700000000000100ull + i);
        if (i % 100 == 99) {
            spool_flush(&a.spool);
            journal_tick(&a.journal, now += JOURNAL_FLUSH_US);
        }
    }
    int segments = fx_count(&fx, ".journal", ".jrnl");
    cr_assert_gt(segments, 2, "rotated at the segment size: %d", segments);
    cr_assert_eq(a.journal.stats.segments_deleted, 0, "the open flow anchors the first segment and all after it");
    /* the long-lived flow ends: everything but the current segment goes */
    tracker_finish_all(&a.tr);
    spool_flush(&a.spool);
    journal_tick(&a.journal, now += JOURNAL_FLUSH_US);
    cr_assert_eq(fx_count(&fx, ".journal", ".jrnl"), 1);
    cr_assert_eq(a.journal.stats.segments_deleted, (uint64_t)segments - 1);
    uint64_t on_disk = 0;
    for (size_t i = 0; i < a.journal.nsegs; i++)
        on_disk += a.journal.segs[i].bytes;
    cr_assert_eq(a.journal.bytes, on_disk + a.journal.buf_len, "journal_bytes is what the files hold");
    clean_stop(&a);
}

Test(capturer_journal, journal_max_stops_new_flows_and_counts_them)
{
    struct run a;
    start(&a, 1 << 20, 0, NULL);
    struct test_frame f;
    uint64_t now = 10;
    /* 1,000 open flows of ~1.5 KB: 1.5 MB would be needed */
    for (uint32_t i = 0; i < 1000; i++) {
        tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_UDP, (uint16_t)(1000 + i), 53, 0, 0, 0, 1400);
        feed(&a, &f, 1700000000000100ull + i);
        journal_tick(&a.journal, now += JOURNAL_FLUSH_US);
    }
    cr_assert_gt(a.journal.stats.dropped, 200);
    cr_assert_lt(a.journal.stats.dropped, 1000);
    cr_assert_leq(a.journal.bytes, 1u << 20);
    kill9(&a);
    struct run b;
    struct recover_stats st;
    start(&b, 1 << 20, 0, &st);
    cr_assert_eq(st.flows_recovered, 1000 - a.journal.stats.dropped);
    clean_stop(&b);
}

/* The host's own flows never enter the journal, so a crash brings none of them back; after the restart the rest of
 * the host's connection (mid-stream, to its ephemeral port) is still ignored and the outsider's is still recorded. */
Test(capturer_journal, the_host_s_own_flows_are_neither_journaled_nor_recovered)
{
    struct run a;
    start(&a, 64 << 20, 0, NULL);
    struct test_frame f;
    tf_ipv4(&f, "203.0.113.10", "198.51.100.80", IPPROTO_TCP, 45000, 443, TCPF_SYN, 1, 0, 0); /* an S3 upload */
    feed(&a, &f, 1700000000000001ull);
    tf_ipv4(&f, "198.51.100.80", "203.0.113.10", IPPROTO_TCP, 443, 45000, TCPF_SYN | TCPF_ACK, 9, 2, 0);
    feed(&a, &f, 1700000000000002ull);
    tf_ipv4(&f, "203.0.113.10", "198.51.100.80", IPPROTO_TCP, 45000, 443, TCPF_ACK, 2, 10, 1000);
    feed(&a, &f, 1700000000000003ull);
    tf_ipv4(&f, "203.0.113.10", "198.51.100.53", IPPROTO_UDP, 40001, 53, 0, 0, 0, 30); /* its DNS query */
    feed(&a, &f, 1700000000000004ull);
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_SYN, 1000, 0, 0); /* an outsider */
    feed(&a, &f, 1700000000000005ull);
    cr_assert_eq(a.tr.stats.flows_ignored_local, 2);
    cr_assert_eq(a.tr.table.count, 1);
    kill9(&a);

    struct run b;
    struct recover_stats st;
    start(&b, 64 << 20, 0, &st);
    cr_assert_eq(st.flows_recovered, 1, "the outsider's flow only: %llu", (unsigned long long)st.flows_recovered);
    cr_assert(exists("1700000000000005_tcp_198.51.100.2_40000_203.0.113.10_80.pcap"));
    tf_ipv4(&f, "203.0.113.10", "198.51.100.80", IPPROTO_TCP, 45000, 443, TCPF_ACK, 1002, 10, 1000);
    feed(&b, &f, 1700000000000006ull);
    tf_ipv4(&f, "198.51.100.80", "203.0.113.10", IPPROTO_TCP, 443, 45000, TCPF_ACK, 10, 2002, 0);
    feed(&b, &f, 1700000000000007ull);
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_ACK, 1001, 5001, 78);
    feed(&b, &f, 1700000000000008ull);
    cr_assert_eq(b.tr.stats.flows_ignored_local, 1, "the upload's rest, one ignored entry");
    cr_assert_eq(b.tr.table.count, 1, "the outsider's continuation");
    clean_stop(&b);
}

/* ---- a hostile journal: one serial across thousands of records ---------------------------------------------- */

#define HOSTILE_RECORDS 8000u
#define HOSTILE_PAYLOAD 1200u

struct handed_out {
    uint64_t flows, packets;
    uint32_t most_packets;
    size_t largest_cap;
    uint64_t most_bytes; /* captured bytes, pcap record headers not counted */
};

static void count_and_free(void *arg, struct flow *f)
{
    struct handed_out *h = arg;
    h->flows++;
    h->packets += f->packets;
    if (f->packets > h->most_packets)
        h->most_packets = f->packets;
    if (f->records_cap > h->largest_cap)
        h->largest_cap = f->records_cap;
    uint64_t bytes = f->records_len - (uint64_t)f->packets * PCAPFILE_RECORD_HEADER_LEN;
    if (bytes > h->most_bytes)
        h->most_bytes = bytes;
    flow_table_release(f);
}

/* 8,000 records of one flow serial, ~10 MB, as a damaged or planted segment could hold. */
static uint8_t *hostile_records(size_t *len)
{
    struct test_frame fr;
    tf_ipv4(&fr, "198.51.100.7", "203.0.113.10", IPPROTO_TCP, 4444, 80, 0x18, 1, 1, HOSTILE_PAYLOAD);
    size_t one = JREC_HEADER_LEN + fr.len;
    uint8_t *buf = malloc(one * HOSTILE_RECORDS);
    cr_assert_not_null(buf);
    for (uint32_t i = 0; i < HOSTILE_RECORDS; i++) {
        jrec_header_encode(buf + i * one, JREC_PACKET, 5, 1700000000000000ull + i, fr.len, fr.len);
        memcpy(buf + i * one + JREC_HEADER_LEN, fr.bytes, fr.len);
    }
    *len = one * HOSTILE_RECORDS;
    return buf;
}

static struct handed_out replay_hostile(const struct replay_limits *limits)
{
    size_t len;
    uint8_t *buf = hostile_records(&len);
    struct handed_out h = {0};
    struct replay r;
    cr_assert_eq(replay_init(&r, sensor, 1, DLT_EN10MB, limits, count_and_free, &h), 0);
    replay_records(&r, buf, len);
    replay_finish(&r);
    replay_destroy(&r);
    free(buf);
    return h;
}

Test(capturer_journal, a_hostile_journal_stays_within_the_memory_limit)
{
    const struct replay_limits limits = {.memory_limit = 1 << 20, .max_flow_packets = 10000000,
                                         .max_flow_bytes = 1ull << 30};
    struct handed_out h = replay_hostile(&limits);
    /* every packet comes out (nothing silently lost), in flows no larger than the limit plus one growth step */
    cr_assert_eq(h.packets, HOSTILE_RECORDS);
    cr_assert_gt(h.flows, 1, "one flow held all %u records", HOSTILE_RECORDS);
    cr_assert_leq(h.largest_cap, (size_t)limits.memory_limit * 3 / 2 + 2048, "a flow held %zu bytes", h.largest_cap);
}

Test(capturer_journal, replay_cuts_flows_where_capture_would)
{
    const struct replay_limits limits = {.memory_limit = 1 << 26, .max_flow_packets = 100,
                                         .max_flow_bytes = 1ull << 30};
    struct handed_out h = replay_hostile(&limits);
    cr_assert_eq(h.packets, HOSTILE_RECORDS);
    cr_assert_eq(h.most_packets, 100);
    cr_assert_eq(h.flows, HOSTILE_RECORDS / 100);
    const struct replay_limits bytes = {.memory_limit = 1 << 26, .max_flow_packets = 10000000,
                                        .max_flow_bytes = 64 * 1024};
    h = replay_hostile(&bytes);
    cr_assert_eq(h.most_bytes, 64 * 1024);
    cr_assert_gt(h.flows, 100);
}

#define OLD_NAME "1699999900000000_udp_198.51.100.2_5353_203.0.113.10_53.pcap"

/* A flow open at kill -9 goes back into the flow table at the next start; what the attacker sends after the restart
 * continues it, a second kill -9 loses none of it (journaled again), and its idle timeout writes it as one pcap with
 * every packet. A flow already idle for flow_timeout when the capturer comes back is written at once. */
Test(capturer_journal, a_recovered_open_flow_and_its_continuation_are_one_pcap)
{
    fx.cc.max_flow_packets = 100;
    struct run a;
    start(&a, 64 << 20, 0, NULL);
    struct test_frame f;
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_UDP, 5353, 53, 0, 0, 0, 30);
    feed(&a, &f, 1699999900000000ull); /* idle 100 s at the restart: over flow_timeout (60 s) */
    flow_a(&a);
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 0);
    kill9(&a);
    char seg_a[512], saved[300];
    only_segment(seg_a, sizeof seg_a);
    snprintf(saved, sizeof saved, "%s/saved", fx.dir);
    copy_file(seg_a, saved);

    struct run b;
    struct recover_stats st;
    uint64_t restart = 1700000002000000ull; /* two seconds later */
    start(&b, 64 << 20, restart, &st);
    cr_assert_eq(st.flows_recovered, 2, "%llu", (unsigned long long)st.flows_recovered);
    cr_assert_eq(st.flows_adopted, 1);
    cr_assert_eq(st.flows_written_now, 1);
    cr_assert(exists(OLD_NAME), "idle for flow_timeout while no capturer ran: written at once");
    cr_assert_not(exists(A_NAME), "the open flow is open again, not written");
    cr_assert_eq(b.tr.table.count, 1);
    cr_assert_eq(b.tr.stats.flows_started, 0, "the dead run counted it");
    cr_assert_eq(fx_count(&fx, ".journal", ".jrnl"), 1, "the dead run's segment is gone: this run journaled the flow");
    /* the continuation after the restart: more data, then the FIN */
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_ACK, 1079, 5001, 20);
    feed(&b, &f, restart + 1);
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_FIN | TCPF_ACK, 1099, 5001, 0);
    feed(&b, &f, restart + 2);
    cr_assert_eq(b.tr.table.count, 1, "continued, not a second flow");
    cr_assert_eq(b.tr.stats.flows_started, 0);
    kill9(&b);
    /* killed again, and as if b had died between journaling the flow and deleting a's segment: both runs hold it */
    copy_file(saved, seg_a);
    cr_assert_eq(fx_count(&fx, ".journal", ".jrnl"), 2);

    struct run c;
    start(&c, 64 << 20, restart + 3000000, &st);
    cr_assert_eq(st.runs, 2);
    cr_assert_eq(st.flows_recovered, 1, "one flow, whatever number of runs held it: %llu",
                 (unsigned long long)st.flows_recovered);
    cr_assert_eq(c.tr.table.count, 1);
    cr_assert_eq(flow_table_oldest(&c.tr.table)->packets, 5);
    cr_assert_not(exists(A_NAME));
    tracker_expire(&c.tr, restart + 3000000 + 60000000);
    spool_flush(&c.spool);
    cr_assert(exists(A_NAME), "finished by its idle timeout");
    cr_assert_eq(fx_tcpdump(&fx, A_NAME, NULL, 0), 5,
                 "the SYN, SYN+ACK and data before the kills, the data and FIN after");
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 2, "the old flow and A: nothing split, nothing twice");
    struct queue_record rec;
    int seen = 0;
    while (queue_peek(q, &rec) == QUEUE_OK) {
        queue_commit(q, rec.seq);
        if (strcmp(rec.name, A_NAME) == 0) {
            cr_assert_eq(rec.flags & (FLOW_EARLY | FLOW_TRUNCATED), 0,
                         "a whole flow, finished by its idle timeout: %u", rec.flags);
            cr_assert_eq(rec.packets, 5);
            seen++;
        }
    }
    cr_assert_eq(seen, 1);
    clean_stop(&c);
    cr_assert_eq(fx_count(&fx, ".journal", ".jrnl"), 0, "every flow written: the journal empties");
}
