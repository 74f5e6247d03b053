#include "analyze.h"

#include <stdio.h>
#include <string.h>

#include "flow.h"
#include "pcap_file.h"
#include "reassembly.h"
#include "recognise.h"
#include "record.h"

static void read_packets(struct pcap_reader *r, struct pcap_flows *t, struct analyze_stats *stats)
{
    struct pcap_packet pkt;
    while (pcap_reader_next(r, &pkt) == 1) {
        stats->packets++;
        struct packet p;
        enum packet_status st = analyzer_packet_decode(pkt.linktype, pkt.data, pkt.caplen, &p);
        if (st == PACKET_FRAGMENT) {
            stats->fragments++;
            continue;
        }
        if (st != PACKET_OK || (p.proto != IPPROTO_NUM_TCP && p.proto != IPPROTO_NUM_UDP &&
                                p.proto != IPPROTO_NUM_ICMP && p.proto != IPPROTO_NUM_ICMPV6)) {
            stats->undecodable++;
            continue;
        }
        struct timestamp ts = { .sec = pkt.ts_sec, .nsec = pkt.ts_nsec };
        pcap_flows_add(t, &p, ts);
    }
}

static int rebuild(const struct flow *f, int endpoint, size_t max, struct stream *out)
{
    const struct flow_direction *d = &f->dir[endpoint];
    if (f->proto == IPPROTO_NUM_TCP)
        return reassemble_tcp(d->segs, d->nsegs, d->syn || d->synack, d->syn_seq, max, out);
    return reassemble_datagrams(d->segs, d->nsegs, max, out);
}

int analyze_pcap(const uint8_t *data, size_t len, const struct analyze_options *opt, const struct analyze_source *src,
                 record_fn fn, void *arg, struct analyze_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    struct pcap_reader r;
    if (pcap_reader_open(&r, data, len) != 0) {
        snprintf(stats->error, sizeof stats->error, "%s", r.error);
        return -1;
    }
    struct pcap_flows t;
    pcap_flows_init(&t);
    read_packets(&r, &t, stats);
    stats->truncated = r.truncated;
    if (r.truncated)
        snprintf(stats->error, sizeof stats->error, "%s", r.error);
    if (t.out_of_memory && !stats->error[0])
        snprintf(stats->error, sizeof stats->error, "out of memory: some packets were not analysed");
    if (t.dropped_flows && !stats->error[0])
        snprintf(stats->error, sizeof stats->error, "more than %u flows: %llu flows not analysed",
                 FLOW_TABLE_MAX_FLOWS, (unsigned long long)t.dropped_flows);

    int stopped = 0;
    for (size_t i = 0; i < t.nflows && !stopped; i++) {
        const struct flow *f = &t.flows[i];
        struct stream client, server;
        if (rebuild(f, f->client, opt->max_payload, &client) != 0 ||
            rebuild(f, !f->client, opt->max_payload, &server) != 0) {
            reassembly_stream_free(&client);
            snprintf(stats->error, sizeof stats->error, "out of memory while reassembling");
            break;
        }
        struct recognised seen;
        recognise(client.bytes, client.len, server.bytes, server.len, f->proto == IPPROTO_NUM_UDP, &seen);
        struct record_input in = { .flow = f, .client = &client, .server = &server, .seen = &seen, .src = src,
                                   .pcap_truncated = r.truncated || t.out_of_memory,
                                   .max_record_payload = opt->max_record_payload };
        struct record rec;
        if (record_build(&in, &rec) == 0) {
            stats->flows++;
            stopped = fn(&rec, arg);
        }
        record_free(&rec);
        reassembly_stream_free(&client);
        reassembly_stream_free(&server);
    }
    pcap_flows_free(&t);
    return 0;
}
