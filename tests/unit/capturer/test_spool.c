/* Capturer: the pcap writer and the spool. Files are read back by tcpdump (a real reader, not our own code); names
 * are S3-safe; the quota drops and counts; the queue gets the metadata; no *.tmp stays behind. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "../../../capturer/flow_table.h"
#include "../../../capturer/spool.h"
#include "../../../capturer/tracker.h"
#include "../../helpers/capturer_packets.h"
#include "../../helpers/capturer_spool_fixture.h"
#include "pcap/pcap.h"
#include "pcapfile.h"
#include "queue.h"

static struct prefix sensor[2];
static struct spool spool;
static struct tracker tr;
static struct spool_fixture fx;
static struct lurker_queue *q = &fx.queue;

static void to_spool(void *arg, struct flow *f)
{
    spool_add(arg, f);
}

static void setup(void)
{
    spool_fixture_setup(&fx, "spool", 64);
    const char *why;
    cr_assert_eq(prefix_parse("203.0.113.10", &sensor[0], &why), 0);
    cr_assert_eq(prefix_parse("2001:db8:5::10", &sensor[1], &why), 0);
}

static void teardown(void)
{
    spool_fixture_teardown(&fx);
}

static void start(uint64_t quota)
{
    char err[256];
    cr_assert_eq(spool_open(&spool, fx.dir, quota, PCAPFILE_LINKTYPE_ETHERNET, 65535, q, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(tracker_init(&tr, &fx.cc, sensor, 2, DLT_EN10MB, (const uint8_t *)"0123456789abcdef", to_spool,
                              &spool),
                 0);
}

static void stop(void)
{
    tracker_destroy(&tr);
    spool_close(&spool);
}

static void feed(const struct test_frame *f, uint64_t ts)
{
    tracker_packet(&tr, ts, f->bytes, f->len, f->len, ts);
}

TestSuite(capturer_spool, .init = setup, .fini = teardown);

Test(capturer_spool, tcp_flow_is_a_pcap_tcpdump_reads)
{
    start(1 << 30);
    struct test_frame f;
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_SYN, 1000, 0, 0);
    feed(&f, 1700000000000001ull);
    tf_ipv4(&f, "203.0.113.10", "198.51.100.2", IPPROTO_TCP, 80, 40000, TCPF_SYN | TCPF_ACK, 5000, 1001, 0);
    feed(&f, 1700000000000002ull);
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, 80, TCPF_ACK, 1001, 5001, 78);
    feed(&f, 1700000000000003ull);
    tracker_finish_all(&tr);
    spool_flush(&spool);

    const char *name = "1700000000000001_tcp_198.51.100.2_40000_203.0.113.10_80.pcap";
    char first[512];
    cr_assert_eq(fx_tcpdump(&fx, name, first, sizeof first), 3);
    cr_assert(strstr(first, "198.51.100.2.40000 > 203.0.113.10.80: Flags [S]") != NULL, "%s", first);
    cr_assert_eq(fx_count(&fx, "", ".tmp"), 0);
    cr_assert_eq(spool.stats.written, 1);

    struct queue_record rec;
    cr_assert_eq(queue_peek(q, &rec), QUEUE_OK);
    cr_assert_str_eq(rec.name, name);
    cr_assert(queue_record_valid(&rec));
    cr_assert_eq(rec.version, QUEUE_RECORD_VERSION);
    cr_assert_eq(rec.packets, 3);
    cr_assert_not(rec.key.batch);
    cr_assert_eq(rec.key.id.proto, IPPROTO_TCP);
    cr_assert_eq(rec.key.id.remote_port, 40000);
    cr_assert_eq(rec.key.id.local_port, 80);
    cr_assert_eq(rec.key.first_us, 1700000000000001ull);
    char remote[64];
    ip_addr_format(&rec.key.id.remote, remote, sizeof remote);
    cr_assert_str_eq(remote, "198.51.100.2");
    cr_assert_eq(rec.last_us, 1700000000000003ull);
    struct stat st;
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fx.dir, name);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq((uint64_t)st.st_size, rec.file_size);
    cr_assert_eq(spool.bytes, 4096 + 512, "one 4 KiB block and an inode's worth for a %llu-byte file",
                 (unsigned long long)rec.file_size);
    stop();
}

Test(capturer_spool, ipv6_name_has_no_colon_and_udp_reads_back)
{
    start(1 << 30);
    struct test_frame f;
    tf_ipv6_ext(&f, "2001:db8:a::2", "2001:db8:5::10", IPPROTO_UDP, 5353, 53, 0);
    feed(&f, 1700000000000005ull);
    tracker_finish_all(&tr);
    spool_flush(&spool);
    const char *name = "1700000000000005_udp_2001-db8-a--2_5353_2001-db8-5--10_53.pcap";
    cr_assert_eq(fx_tcpdump(&fx, name, NULL, 0), 1);
    stop();
}

Test(capturer_spool, quota_drops_are_counted_not_written)
{
    start(1 << 20); /* 1 MiB: each flow is 24 + 16 + 1054 bytes, one 4 KiB block and an inode (512) on disk */
    struct test_frame f;
    for (uint16_t p = 1; p <= 1000; p++) {
        tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_UDP, p, 53, 0, 0, 0, 1000 - 42 + 54);
        feed(&f, 1700000000000000ull + p);
    }
    tracker_finish_all(&tr);
    spool_flush(&spool);
    uint64_t per_file = 4096 + 512;
    uint64_t fit = (1u << 20) / per_file;
    cr_assert_eq(spool.stats.written, fit);
    cr_assert_eq(spool.stats.dropped_quota, 1000 - fit);
    cr_assert_eq(fx_count(&fx, "", ".pcap"), (int)fit);
    cr_assert_leq(spool.bytes, 1u << 20);
    /* the shipper deleted everything: a rescan learns it */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -f %s/*.pcap", fx.dir);
    cr_assert_eq(system(cmd), 0);
    spool_rescan(&spool);
    cr_assert_eq(spool.bytes, 0);
    stop();
}

Test(capturer_spool, same_tuple_same_microsecond_gets_a_second_name)
{
    fx.cc.max_flow_packets = 1;
    start(1 << 30);
    struct test_frame f;
    tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 1, 2, TCPF_SYN, 0, 0, 0);
    feed(&f, 1700000000000009ull);
    feed(&f, 1700000000000009ull);
    spool_flush(&spool);
    cr_assert_eq(spool.stats.written, 2);
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 2);
    /* the second is announced under its "-1" name, with the duplicate in its key: its object key differs too */
    struct queue_record first, second;
    cr_assert_eq(queue_peek(q, &first), QUEUE_OK);
    queue_commit(q, first.seq);
    cr_assert_eq(queue_peek(q, &second), QUEUE_OK);
    cr_assert_str_eq(first.name, "1700000000000009_tcp_198.51.100.2_1_203.0.113.10_2.pcap");
    cr_assert_str_eq(second.name, "1700000000000009_tcp_198.51.100.2_1_203.0.113.10_2-1.pcap");
    cr_assert_eq(first.key.duplicate, 0);
    cr_assert_eq(second.key.duplicate, 1);
    cr_assert(queue_record_valid(&second));
    stop();
}

Test(capturer_spool, stale_tmp_files_are_removed_at_open)
{
    char path[128];
    snprintf(path, sizeof path, "%s/x.pcap.tmp", fx.dir);
    FILE *fp = fopen(path, "w");
    fputs("half", fp);
    fclose(fp);
    start(1 << 30);
    cr_assert_eq(fx_count(&fx, "", ".tmp"), 0);
    cr_assert_eq(spool.stats.stale_tmp_removed, 1);
    stop();
}

static int done_in_batch, done_alone;
static void count_done(void *arg, uint64_t serial, uint32_t seg, const char *name)
{
    (void)arg, (void)serial, (void)seg;
    if (name && strstr(name, "_batch_"))
        done_in_batch++;
    else
        done_alone++;
}

/* The name of the one file in fx.dir containing `part`, or "" */
static void find_file(const char *part, char *out, size_t len)
{
    DIR *d = opendir(fx.dir);
    struct dirent *e;
    out[0] = '\0';
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, part))
            snprintf(out, len, "%s", e->d_name);
    closedir(d);
}

Test(capturer_spool, flows_without_client_data_share_one_batch_that_tcpdump_reads)
{
    start(1 << 30);
    spool_batch_configure(&spool, 60000000u, 100000, 64u << 20);
    spool.done = count_done;
    done_in_batch = done_alone = 0;
    struct test_frame f;
    for (uint16_t p = 1; p <= 300; p++) { /* a scan: SYN, our SYN+ACK, the scanner's RST */
        tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, p, TCPF_SYN, 1000, 0, 0);
        feed(&f, 1700000000000000ull + p * 10u);
        tf_ipv4(&f, "203.0.113.10", "198.51.100.2", IPPROTO_TCP, p, 40000, TCPF_SYN | TCPF_ACK, 5000, 1001, 0);
        feed(&f, 1700000000000001ull + p * 10u);
        tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, p, TCPF_RST, 1001, 0, 0);
        feed(&f, 1700000000000002ull + p * 10u);
    }
    tf_ipv4(&f, "198.51.100.3", "203.0.113.10", IPPROTO_TCP, 41000, 80, TCPF_SYN, 1000, 0, 0);
    feed(&f, 1700000000009000ull);
    tf_ipv4(&f, "198.51.100.3", "203.0.113.10", IPPROTO_TCP, 41000, 80, TCPF_ACK, 1001, 5001, 78); /* data */
    feed(&f, 1700000000009001ull);
    tracker_finish_all(&tr);
    spool_flush(&spool);
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 1, "the data flow alone is published; the batch is still open");
    cr_assert_eq(fx_count(&fx, "", ".pcap.tmp"), 1);
    cr_assert_eq(spool.batch.nmembers, 300);
    cr_assert_eq(done_in_batch, 0, "members are done only once their batch is published");
    spool_batch_close(&spool);

    char batch[256];
    find_file("_batch_", batch, sizeof batch);
    cr_assert_neq(batch[0], '\0');
    cr_assert_eq(fx_count(&fx, "", ".tmp"), 0);
    cr_assert_eq(fx_tcpdump(&fx, batch, NULL, 0), 900, "tcpdump reads every packet of every member");
    cr_assert_eq(fx_tcpdump(&fx, "1700000000009000_tcp_198.51.100.3_41000_203.0.113.10_80.pcap", NULL, 0), 2);
    cr_assert_eq(spool.stats.written, 301);
    cr_assert_eq(spool.batch.stats.batches_written, 1);
    cr_assert_eq(spool.batch.stats.flows_batched, 300);
    cr_assert_eq(done_in_batch, 300);
    cr_assert_eq(done_alone, 1);

    struct queue_record rec;
    cr_assert_eq(queue_peek(q, &rec), QUEUE_OK); /* the data flow first */
    cr_assert_not(rec.key.batch);
    queue_commit(q, rec.seq);
    cr_assert_eq(queue_peek(q, &rec), QUEUE_OK);
    cr_assert_str_eq(rec.name, batch);
    cr_assert(queue_record_valid(&rec));
    cr_assert(rec.key.batch);
    cr_assert_eq(rec.key.batch_pid, (uint64_t)getpid());
    cr_assert_eq(rec.packets, 900);
    struct stat st;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx.dir, batch);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq((uint64_t)st.st_size, rec.file_size);
    stop();
}

Test(capturer_spool, a_batch_at_its_flow_cap_is_published_and_a_new_one_opened)
{
    start(1 << 30);
    spool_batch_configure(&spool, 60000000u, 100, 64u << 20);
    struct test_frame f;
    for (uint16_t p = 1; p <= 250; p++) {
        tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, 40000, p, TCPF_SYN, 1000, 0, 0);
        feed(&f, 1700000000000000ull + p);
    }
    tracker_finish_all(&tr);
    spool_flush(&spool);
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 2);
    cr_assert_eq(spool.batch.nmembers, 50);
    stop(); /* closing the spool publishes the open batch */
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 3);
    cr_assert_eq(fx_count(&fx, "", ".tmp"), 0);
    cr_assert_eq(spool.stats.written, 250);
}

/* 20,000 SYN-only flows (batch members) into a 1 MiB spool: a SYN-only flow is 16 + 54 bytes, so about 15,000 fit. */
static void syn_flood_into_a_small_spool(void)
{
    start(1 << 20);
    spool_batch_configure(&spool, 60000000u, 100000, 64u << 20);
    struct test_frame f;
    for (uint32_t i = 0; i < 20000; i++) {
        tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_TCP, (uint16_t)(1 + i / 60000), (uint16_t)(1 + i),
                TCPF_SYN, 1000, 0, 0);
        feed(&f, 1700000000000000ull + i);
    }
    tracker_finish_all(&tr);
    spool_flush(&spool);
}

Test(capturer_spool, a_full_spool_counts_the_flow_and_publishes_the_open_batch)
{
    syn_flood_into_a_small_spool();
    cr_assert_gt(spool.stats.dropped_quota, 0);
    cr_assert_eq(spool.stats.written + spool.stats.dropped_quota, 20000);
    cr_assert_eq(spool.batch.stats.batches_written, 1);
    cr_assert_eq(fx_count(&fx, "", ".pcap.tmp"), 0, "the batch was published when the spool filled");
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 1);
    cr_assert_leq(spool.bytes, spool_batch_quota(&spool), "batch members stop at their share of the quota");
    stop();
    cr_assert_eq(fx_count(&fx, "", ".pcap"), 1, "no empty batch is published at stop");
}

/* A flood fills the batches' share of the spool; a flow with client data still finds room in the rest. */
Test(capturer_spool, a_flood_of_empty_flows_leaves_room_for_flows_with_data)
{
    syn_flood_into_a_small_spool();
    cr_assert_gt(spool.stats.dropped_quota, 0, "the flood went over the batches' share");
    uint64_t dropped = spool.stats.dropped_quota;
    struct test_frame f;
    for (uint16_t i = 0; i < 20; i++) {
        tf_ipv4(&f, "198.51.100.9", "203.0.113.10", IPPROTO_TCP, (uint16_t)(50000 + i), 80, TCPF_ACK | 0x08 /* PSH */,
                1000, 0, 300);
        feed(&f, 1700000000100000ull + i);
    }
    tracker_finish_all(&tr);
    spool_flush(&spool);
    cr_assert_eq(spool.stats.dropped_quota, dropped, "no flow with data was refused");
    cr_assert_eq(fx_count(&fx, "", "_80.pcap"), 20);
    cr_assert_leq(spool.bytes, 1u << 20);
    stop();
}

/* Many tiny flows: the quota bounds what the disk holds (blocks and inodes), not just the bytes in the files. The
 * oracle is the file system's own account (st_blocks), not the spool's. */
Test(capturer_spool, quota_counts_blocks_and_files_not_just_bytes)
{
    const uint64_t quota = 1 << 20;
    start(quota);
    struct test_frame f;
    for (uint32_t i = 0; i < 1000; i++) {
        tf_ipv4(&f, "198.51.100.2", "203.0.113.10", IPPROTO_UDP, (uint16_t)(10000 + i), 53, 0, 0, 0, 10);
        feed(&f, 1700000000000001ull + i);
    }
    tracker_finish_all(&tr);
    spool_flush(&spool);
    DIR *d = opendir(fx.dir);
    uint64_t blocks = 0, files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", fx.dir, e->d_name);
        if (e->d_name[0] != '.' && lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            blocks += (uint64_t)st.st_blocks * 512u;
            files++;
        }
    }
    closedir(d);
    cr_assert_gt(spool.stats.dropped_quota, 0, "1000 flows of 4 KiB blocks each fit a 1 MiB quota?");
    cr_assert_eq(files + spool.stats.dropped_quota, 1000, "every flow written or counted");
    cr_assert_leq(blocks, quota, "the files hold %llu bytes of blocks", (unsigned long long)blocks);
    cr_assert_leq(files, quota / 4096);
    stop();
}
