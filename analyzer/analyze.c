#include "analyze.h"

#include <stdio.h>
#include <string.h>

#include "flow.h"
#include "pcapfile.h"
#include "reassembly.h"
#include "recognise.h"
#include "record.h"

static void read_packets(struct pcapfile_reader *r, struct pcap_flows *t, struct analyze_stats *stats)
{
    struct pcapfile_packet pkt;
    while (pcapfile_reader_next(r, &pkt) == 1) {
        stats->packets++;
        struct decoded_packet p;
        enum decode_result st = decode_packet((int)pkt.linktype, pkt.data, pkt.caplen, &p);
        if (st != DECODE_NOT_IP && p.fragment) { /* not reassembled */
            stats->fragments++;
            continue;
        }
        if (st != DECODE_OK || (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP && p.proto != IPPROTO_ICMP &&
                                p.proto != IPPROTO_ICMPV6)) {
            stats->undecodable++;
            continue;
        }
        struct timestamp ts = { .sec = pkt.ts_sec, .nsec = pkt.ts_nsec };
        pcap_flows_add(t, &p, ts);
    }
}

/* What analyzing reuses from flow to flow and from pcap to pcap: the flow table, one reassembly buffer per
 * direction, the segment list handed to reassembly and the record's line. A run over thousands of one-flow pcaps
 * would otherwise allocate and free all of it for every file. */
struct analyze_scratch {
    struct pcap_flows flows;
    struct reassembly_scratch client, server;
    struct segment *segs;
    size_t segs_capacity;
    struct record_buffer line;
    struct record_buffer source;   /* the pcap's "sensor" and "s3path" members, written once per pcap */
};

/* One per thread; a nested call (a callback analysing another pcap) uses a scratch of its own. */
static _Thread_local struct analyze_scratch thread_scratch;
static _Thread_local bool thread_scratch_busy;

/* Buffers above this size are freed after a pcap rather than kept for the next one. */
#define SCRATCH_KEEP_BYTES (256u * 1024u)

static void scratch_release(struct analyze_scratch *sc, bool keep)
{
    if (keep) {
        pcap_flows_reset(&sc->flows);
        if (sc->client.size > SCRATCH_KEEP_BYTES)
            reassembly_scratch_free(&sc->client);
        if (sc->server.size > SCRATCH_KEEP_BYTES)
            reassembly_scratch_free(&sc->server);
        if (sc->line.size > SCRATCH_KEEP_BYTES)
            record_buffer_free(&sc->line);
        if (sc->segs_capacity > SCRATCH_KEEP_BYTES / sizeof *sc->segs) {
            free(sc->segs);
            sc->segs = NULL;
            sc->segs_capacity = 0;
        }
        sc->source.len = 0;
        sc->source.oom = false;
        return;
    }
    pcap_flows_free(&sc->flows);
    reassembly_scratch_free(&sc->client);
    reassembly_scratch_free(&sc->server);
    free(sc->segs);
    record_buffer_free(&sc->line);
    record_buffer_free(&sc->source);
    memset(sc, 0, sizeof *sc);
}

static int rebuild(struct analyze_scratch *sc, const struct flow *f, int endpoint, size_t max,
                   struct reassembly_scratch *buffer, struct stream *out)
{
    const struct flow_direction *d = &f->dir[endpoint];
    if (d->nsegs > sc->segs_capacity) {
        size_t cap = sc->segs_capacity ? sc->segs_capacity : 64;
        while (cap < d->nsegs)
            cap *= 2;
        struct segment *segs = realloc(sc->segs, cap * sizeof *segs);
        if (!segs)
            return -1;
        sc->segs = segs;
        sc->segs_capacity = cap;
    }
    pcap_flows_segments(&sc->flows, d, sc->segs);
    if (f->proto == IPPROTO_TCP)
        return reassemble_tcp_scratch(sc->segs, d->nsegs, d->syn || d->synack, d->syn_seq, max, buffer, out);
    return reassemble_datagrams_scratch(sc->segs, d->nsegs, max, buffer, out);
}

static bool endpoint_is_local(const struct analyze_options *opt, const struct flow *f, int endpoint)
{
    struct ip_addr a;
    if (f->family == 4)
        ip_addr_from_v4(&a, f->addr[endpoint]);
    else
        ip_addr_from_v6(&a, f->addr[endpoint]);
    return prefixes_contain(opt->local, opt->nlocal, &a);
}

/* With the sensor's prefixes known, the client is the endpoint that is not the sensor's, whatever the handshake
 * says, and the first packet's sender (endpoint 0) tells who started the flow. */
static enum started_by orient(const struct analyze_options *opt, struct flow *f)
{
    if (opt->nlocal == 0)
        return STARTED_BY_UNKNOWN;
    bool local0 = endpoint_is_local(opt, f, 0), local1 = endpoint_is_local(opt, f, 1);
    if (local0 == local1)
        return STARTED_BY_UNKNOWN; /* both or neither: no outside to orient from */
    f->client = local0 ? 1 : 0;
    return local0 ? STARTED_BY_SENSOR : STARTED_BY_OUTSIDER;
}

/* Rebuilds each flow, recognises it and hands its record to fn, until fn returns non-zero. */
static void emit_records(struct analyze_scratch *sc, bool pcap_truncated, const struct analyze_options *opt,
                         const struct analyze_source *src, record_fn fn, void *arg, struct analyze_stats *stats)
{
    const struct pcap_flows *t = &sc->flows;
    record_source_json(src, &sc->source);
    int stopped = 0;
    for (size_t i = 0; i < t->nflows && !stopped; i++) {
        struct flow oriented = t->flows[i];
        const struct flow *f = &oriented;
        enum started_by started_by = orient(opt, &oriented);
        struct stream client, server;
        if (rebuild(sc, f, f->client, opt->max_payload, &sc->client, &client) != 0 ||
            rebuild(sc, f, !f->client, opt->max_payload, &sc->server, &server) != 0) {
            snprintf(stats->error, sizeof stats->error, "out of memory while reassembling");
            break;
        }
        bool cut = pcap_truncated || (opt->input_shrank && *opt->input_shrank);
        struct recognised seen;
        recognise(client.bytes, client.len, server.bytes, server.len, f->proto == IPPROTO_UDP, &seen);
        struct record_input in = { .flow = f, .started_by = started_by, .client = &client, .server = &server, .seen = &seen, .src = src,
                                   .pcap_truncated = cut, .max_record_payload = opt->max_record_payload,
                                   .source_json = sc->source.oom ? NULL : sc->source.s,
                                   .source_json_len = sc->source.len };
        struct record rec;
        record_prepare(&in, &sc->line, &rec);
        stats->flows++;
        stopped = fn(&rec, arg);
    }
}

int analyze_pcap(const uint8_t *data, size_t len, const struct analyze_options *opt, const struct analyze_source *src,
                 record_fn fn, void *arg, struct analyze_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    struct pcapfile_reader r;
    if (pcapfile_reader_open(&r, data, len) != 0) {
        snprintf(stats->error, sizeof stats->error, "%s", r.error);
        return -1;
    }
    bool nested_call = thread_scratch_busy;
    struct analyze_scratch nested = { 0 }, *sc = nested_call ? &nested : &thread_scratch;
    thread_scratch_busy = true;
    struct pcap_flows *t = &sc->flows;
    read_packets(&r, t, stats);
    stats->truncated = r.truncated;
    if (r.truncated)
        snprintf(stats->error, sizeof stats->error, "%s", r.error);
    if (t->out_of_memory && !stats->error[0])
        snprintf(stats->error, sizeof stats->error, "out of memory: some packets were not analysed");
    if (t->dropped_flows && !stats->error[0])
        snprintf(stats->error, sizeof stats->error, "more than %u flows: %llu flows not analysed",
                 FLOW_TABLE_MAX_FLOWS, (unsigned long long)t->dropped_flows);
    emit_records(sc, r.truncated || t->out_of_memory, opt, src, fn, arg, stats);
    scratch_release(sc, !nested_call);
    if (!nested_call)
        thread_scratch_busy = false;
    return 0;
}
