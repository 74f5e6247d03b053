/* Every live counter of every process, in one table. The shared-memory layout, `lurker-ctl status` and the README's
 * counter table all come from this list: adding a counter here is all it takes (and bumps nothing else, because
 * the layout reserves COUNTER_SLOTS slots; the layout version changes only when an existing counter moves).
 *
 * X(process, name, description). Names are unique across processes and are what `lurker-ctl` prints.
 * A description ending in "(gauge)" marks a level (set, not added to); lurker-ctl --prometheus types it so. */
#ifndef LURKER_COUNTERS_H
#define LURKER_COUNTERS_H

#define LURKER_COUNTERS(X)                                                                                        \
    X(RESPONDER, syn_seen, "SYNs received for a monitored address")                                               \
    X(RESPONDER, synack_sent, "SYN+ACKs sent")                                                                    \
    X(RESPONDER, rate_limited_global, "SYNs not answered: global token bucket empty")                             \
    X(RESPONDER, rate_limited_source, "SYNs not answered: the source's /24 or /64 bucket empty")                  \
    X(RESPONDER, port_excluded, "SYNs to excluded ports, left to the kernel")                                     \
    X(RESPONDER, send_errors, "SYN+ACKs the raw socket refused")                                                  \
    X(RESPONDER, syn_malformed, "packets the responder could not parse")                                              \
    X(RESPONDER, banners_sent, "banners sent on elicitation ports")                                               \
    X(RESPONDER, acks_sent, "ACKs sent for client data (duplicate ACKs included)")                                \
    X(RESPONDER, pcap_drops, "packets the kernel dropped before the responder read them")                         \
    X(RESPONDER, cookie_invalid, "segments after the handshake whose SYN cookie did not match (spoofed, stale): not answered") \
    X(CAPTURER, packets, "packets captured")                                                                      \
    X(CAPTURER, bytes, "bytes captured")                                                                          \
    X(CAPTURER, kernel_drops, "packets the kernel dropped before the capturer read them (pcap_stats)")            \
    X(CAPTURER, flows_open, "flows open now (gauge)")                                                              \
    X(CAPTURER, flows_written, "flows written to the spool as pcaps")                                             \
    X(CAPTURER, flows_early_max_flows, "flows finished early: max_flows reached")                                 \
    X(CAPTURER, flows_early_memory, "flows finished early: memory_limit reached")                                 \
    X(CAPTURER, flows_cut_packets, "flows cut at max_flow_packets")                                               \
    X(CAPTURER, flows_cut_bytes, "flows cut at max_flow_bytes")                                                   \
    X(CAPTURER, flows_aged, "flows finished at max_flow_age")                                                     \
    X(CAPTURER, flows_dropped_quota, "flows not written: spool quota reached")                                    \
    X(CAPTURER, flows_dropped_write_error, "flows not written: spool write error (disk full, ...)")              \
    X(CAPTURER, memory_bytes, "packet bytes held in open flows (gauge)")                                          \
    X(CAPTURER, spool_bytes, "bytes of finished pcaps in the spool (gauge)")                                      \
    X(CAPTURER, queue_full, "flows written but not announced: queue full (the shipper finds them by scanning)")  \
    X(CAPTURER, packets_malformed, "packets the capturer could not parse (kept in the flow's pcap when possible)")       \
    X(CAPTURER, flows_started, "flows opened (= written + every flows_dropped_* + open + waiting to be written)") \
    X(CAPTURER, flows_dropped_backlog, "flows not written: the spool disk was too far behind (writer backlog full)") \
    X(CAPTURER, flows_idle, "flows finished after flow_timeout without packets")                                  \
    X(CAPTURER, flows_shutdown, "flows finished at shutdown (SIGTERM/SIGINT)")                                    \
    X(CAPTURER, packets_nomem, "packets not kept: out of memory")                                                 \
    X(CAPTURER, flows_recovered, "flows a killed capturer left open, written from the crash journal at start")     \
    X(CAPTURER, journal_bytes, "bytes of the crash journal on disk (gauge)")                                      \
    X(CAPTURER, journal_dropped, "flows not journaled (or not completely): journal_max reached or journal unwritable") \
    X(CAPTURER, flows_ignored_local, "flows the sensor host started itself (and ICMP errors about its packets, neighbour discovery): not recorded") \
    X(CAPTURER, packets_ignored_local, "packets of those flows: not recorded")                                  \
    X(SHIPPER, uploaded, "pcaps stored and removed from the spool")                                               \
    X(SHIPPER, uploaded_bytes, "bytes stored")                                                                    \
    X(SHIPPER, retries, "upload attempts retried")                                                                \
    X(SHIPPER, failures, "upload attempts that failed")                                                           \
    X(SHIPPER, parked, "pcaps parked in spool/failed after a permanent error")                                   \
    X(SHIPPER, backlog, "pcaps waiting in the spool (gauge)")                                                     \
    X(SHIPPER, oldest_age, "seconds the oldest unshipped pcap has waited (gauge)")                                \
    X(SHIPPER, rescans, "spool scans for files the queue did not announce")                                        \
    X(RESPONDER, tc_passed, "SYNs the tc engine left to the raw path (VLAN tag, IP options, fragment)")            \
    X(CAPTURER, batches_written, "batch pcaps published (flows without client data, capturer.batch_interval)")     \
    X(CAPTURER, flows_batched, "flows written into batches (also counted in flows_written)")                       \
    X(CAPTURER, flows_batch_open, "flows in the batch not yet published (gauge)")                                  \
    X(RESPONDER, fins_sent, "FIN+ACKs sent: the client's FIN acknowledged, the responder closing too")             \
    X(RESPONDER, data_out_of_order, "client segments past a hole (lost or reordered before them): duplicate ACK")  \
    X(RESPONDER, data_duplicate, "client segments that arrived before (retransmissions): cumulative ACK")          \
    X(RESPONDER, ack_rate_limited, "ACKs, FINs and banners not sent: global or per-source token bucket empty")     \
    X(RESPONDER, ack_flows_evicted, "flows the ACK sequence table forgot to make room (its set's least recently used)") \
    X(RESPONDER, ack_flows_resynced, "flows whose expected sequence restarted (the 4-tuple came back as a new connection)") \
    X(RESPONDER, cookie_invalid_ephemeral, "cookie_invalid to the host's ephemeral ports: on one interface, its own connections") \
    X(RESPONDER, ack_held_no_capturer, "client segments not acknowledged: the capturer was not running or not recording") \
    X(CAPTURER, recorded_through, "capture time (unix microseconds) up to which every packet is processed and journaled (gauge)") \
    X(SHIPPER, queue_records_refused, "queue records of another version or malformed: ignored, their files shipped by the next scan") \
    X(SHIPPER, unparsed_names, "spool files whose name is not the capturer's: shipped under the key unparsed/SENSOR/NAME")

enum lurker_process { PROC_RESPONDER, PROC_CAPTURER, PROC_SHIPPER, PROC_COUNT };

enum lurker_counter {
#define LURKER_COUNTER_ENUM(proc, name, desc) CNT_##name,
    LURKER_COUNTERS(LURKER_COUNTER_ENUM)
#undef LURKER_COUNTER_ENUM
        CNT_COUNT
};

struct counter_info {
    enum lurker_process process;
    const char *name;
    const char *description;
};

extern const struct counter_info counter_table[CNT_COUNT];
const char *process_name(enum lurker_process p);

#endif
