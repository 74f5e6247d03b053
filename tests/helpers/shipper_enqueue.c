/* Test helper: the shipper's input, made by the capturer's own code. Each PCAP's packets go through the capturer's
 * tracker (flows, origin rules) into its spool writer (capturer/spool.c), which names the files, writes them into
 * SPOOL_DIR and announces them in the shared-memory queue of segment SHM_NAME, exactly as lurker-capturer does.
 *   shipper_enqueue [-v VERSION] SHM_NAME|- QUEUE_SLOTS SPOOL_DIR LOCAL_PREFIXES PCAP...
 * SHM_NAME "-": files only, nothing announced (what the shipper's rescan finds). -v: the records still waiting in
 * the queue are then rewritten to claim record layout VERSION (a capturer of another build). LOCAL_PREFIXES: the sensor's
 * addresses, comma-separated ("203.0.113.0/24,2001:db8:5::/48"). The PCAPs are read with libpcap. Prints each
 * written file's name; exit 0 when every flow was written and announced, 1 otherwise. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../capturer/spool.h"
#include "../../capturer/tracker.h"
#include "config.h"
#include "pcapfile.h"
#include "shm.h"

#define MAX_LOCAL 8

static int parse_locals(char *list, struct prefix *local, size_t *n)
{
    char *save = NULL;
    *n = 0;
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        const char *why;
        if (*n == MAX_LOCAL || prefix_parse(p, &local[(*n)++], &why) != 0) {
            fprintf(stderr, "local prefix %s: %s\n", p, *n == MAX_LOCAL ? "too many" : why);
            return -1;
        }
    }
    return 0;
}

static void to_spool(void *arg, struct flow *f)
{
    spool_add(arg, f);
}

static void print_name(void *arg, uint64_t serial, uint32_t seg, const char *name)
{
    (void)arg, (void)serial, (void)seg;
    printf("%s\n", name);
}

/* Every packet of one pcap through the tracker; its flows are finished and written at the end. */
static int capture_file(const char *path, const struct lurker_config *cfg, const struct prefix *local, size_t nlocal,
                        const char *spool_dir, struct lurker_queue *queue)
{
    char errbuf[PCAP_ERRBUF_SIZE], err[256];
    pcap_t *p = pcap_open_offline(path, errbuf);
    if (p == NULL) {
        fprintf(stderr, "%s: %s\n", path, errbuf);
        return -1;
    }
    static struct spool spool;
    static struct tracker tr;
    uint32_t linktype = pcapfile_linktype_from_dlt(pcap_datalink(p));
    if (spool_open(&spool, spool_dir, cfg->spool.quota, linktype, (uint32_t)pcap_snapshot(p), queue, err,
                   sizeof err) != 0 ||
        tracker_init(&tr, &cfg->capturer, local, nlocal, pcap_datalink(p), (const uint8_t *)"0123456789abcdef",
                     to_spool, &spool) != 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        pcap_close(p);
        return -1;
    }
    spool.done = print_name;
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        tracker_packet(&tr, ts, data, h->caplen, h->len, ts);
    }
    pcap_close(p);
    tracker_finish_all(&tr);
    spool_flush(&spool);
    int rc = spool.stats.dropped_quota || spool.stats.dropped_write_error || spool.stats.queue_full ? -1 : 0;
    tracker_destroy(&tr);
    spool_close(&spool);
    return rc;
}

/* What a capturer of another build would have pushed: the waiting records under another layout version. */
static void claim_version(struct lurker_queue *q, uint32_t version)
{
    uint64_t tail = atomic_load(&q->shared->tail);
    for (uint64_t seq = atomic_load(&q->shared->head); seq < tail; seq++)
        q->shared->ring[seq & (q->slots - 1)].version = version;
}

int main(int argc, char **argv)
{
    long version = -1;
    if (argc > 2 && strcmp(argv[1], "-v") == 0) {
        version = strtol(argv[2], NULL, 10);
        argc -= 2;
        argv += 2;
    }
    if (argc < 6) {
        fprintf(stderr, "usage: %s [-v VERSION] SHM_NAME|- QUEUE_SLOTS SPOOL_DIR LOCAL_PREFIXES PCAP...\n", argv[0]);
        return 2;
    }
    struct prefix local[MAX_LOCAL];
    size_t nlocal;
    if (parse_locals(argv[4], local, &nlocal) != 0)
        return 2;
    static struct lurker_config cfg;
    config_defaults(&cfg);
    struct shm_segment seg;
    bool announce = strcmp(argv[1], "-") != 0;
    char err[256];
    if (announce && shm_attach(argv[1], (uint32_t)strtoul(argv[2], NULL, 10), &seg, err, sizeof err) < 0) {
        fprintf(stderr, "shm_attach: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (int i = 5; i < argc && rc == 0; i++)
        if (capture_file(argv[i], &cfg, local, nlocal, argv[3], announce ? seg.queue : NULL) != 0)
            rc = 1;
    if (announce && version >= 0)
        claim_version(seg.queue, (uint32_t)version);
    if (announce)
        shm_detach(&seg);
    return rc;
}
