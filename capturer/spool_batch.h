/* Batches: one rolling pcap for the flows in which the remote side sent no payload.
 *
 * Why: most of what a sensor on the internet sees is scanning and backscatter, one SYN (and our SYN+ACK, and maybe
 * an RST) per flow. One pcap per such flow made the object count, the S3 PUTs, the SNS messages and the Lambda runs
 * scale with the attacker's packet rate, and made the write path (open, write, rename per flow) the capturer's cost
 * under a flood. A flow without client data (FLOW_CLIENT_DATA unset: a SYN alone, a handshake without data, an RST,
 * backscatter, a spoofed SYN, an ICMP error or an ICMP query without data) is appended to the open batch instead;
 * a flow with client data keeps its own pcap under its own name.
 *
 * Why here, in the capturer's writer thread, and not in the shipper: the capturer already owns the crash journal
 * and the only thread that writes the spool, so a batch is one more file that thread appends to, with the journal
 * carrying its flows until the batch is durable. Built by the shipper, every flow would first have to be written
 * (and synced, and renamed) as its own file, which is exactly the per-flow cost a flood must not pay, and the
 * shipper would need a second journal of its own for half-built batches.
 *
 * Life of a batch: opened at its first flow as <opened_us>_batch_<pid>-<n>.pcap.tmp (common/flowid.h); each
 * flow's pcap records are appended (through a 1 MiB buffer: one write() per MiB, not per flow); the batch is closed
 * when it is interval old, holds max_flows flows or max_bytes bytes, or at shutdown. Closing is the per-flow
 * protocol at batch scale: fsync, journal barrier, then a FLOW_DONE naming the batch for every member, written to
 * the journal, then the rename to the final name (never over an existing file), fsync of the directory and one queue
 * record (its key a batch's). Until its FLOW_DONE a member is an open flow for the journal.
 *
 * kill -9 of the capturer, wherever it lands: before the FLOW_DONEs, recovery finds the members open and writes
 * them again, into the recovering process's batch, which it publishes before it deletes the dead run's segments;
 * between the FLOW_DONEs and the rename, the batch's .tmp is still in the spool, and recovery counts a FLOW_DONE
 * naming a batch only when that .tmp is gone (recover.c), so the members are written again too; after the rename,
 * the batch is published (in the spool or already shipped) and its members are done. The batch .tmp files of a dead
 * run are removed only after recovery. Each member thus ends up in exactly one published batch.
 *
 * The quota ranks flows by what they are worth: batch members may fill the spool only up to
 * three quarters of spool.quota (spool_batch_quota), so a flood's flows never take the room the flows with client data need (those
 * may use all of it); past the share, members are refused and counted in dropped_quota like any quota drop.
 *
 * Guarantees, as for a flow of its own: every member is written once (in exactly one published batch); a bound that
 * refuses a flow counts it (the spool quota in dropped_quota, a write error in dropped_write_error: a failed batch
 * counts every member it held); flows_written counts members, so the capturer's counters reconcile as before.
 * Memory: a member costs 12 bytes (journal serial and segment) until its batch closes; max_flows bounds it. */
#ifndef LURKER_CAPTURER_SPOOL_BATCH_H
#define LURKER_CAPTURER_SPOOL_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#define BATCH_BUFFER (1u << 20)

struct spool;
struct flow;

struct batch_member {
    uint64_t serial;  /* journal serial, 0: not journaled */
    uint32_t seg;
};

struct batch_stats {
    uint64_t batches_written;
    uint64_t flows_batched;   /* members of published batches (also counted in the spool's written) */
};

struct spool_batch {
    uint64_t interval_us;     /* 0: batches off, one pcap per flow */
    uint32_t max_flows;
    uint64_t max_bytes;
    int fd;                   /* the open batch's .tmp, -1 when none is open */
    struct spool_name key;
    char name[QUEUE_NAME_MAX];
    char tmp[QUEUE_NAME_MAX + 8];
    uint64_t opened_mono_us, opened_us;
    uint64_t first_us, last_us, packets, wire_bytes;
    uint64_t size;            /* file bytes, buffered included */
    bool failed;              /* a write failed: the members are dropped (counted) when the batch closes */
    bool committed;           /* its members were reported done before the rename (spool.h batch_commit) */
    struct batch_member *members;
    uint32_t nmembers, members_cap;
    uint8_t *buf;
    size_t buf_len;
    uint64_t next_number;
    struct batch_stats stats;
};

/* interval_us 0 turns batching off. max_flows >= 1, max_bytes >= 1 MiB (config.c bounds them). */
void spool_batch_configure(struct spool *s, uint64_t interval_us, uint32_t max_flows, uint64_t max_bytes);
/* How much of the spool batch members may use: three quarters of the quota, the rest kept for flows with data. */
uint64_t spool_batch_quota(const struct spool *s);
/* Whether f goes into a batch rather than a file of its own. */
bool spool_batch_takes(const struct spool *s, const struct flow *f);
/* Appends f's records to the open batch (opening one if needed); releases f. Closes the batch at a cap. */
void spool_batch_add(struct spool *s, struct flow *f, uint64_t now_mono_us);
/* Closes the open batch if it is interval old. */
void spool_batch_tick(struct spool *s, uint64_t now_mono_us);
/* Closes the open batch now (shutdown, end of a recovery). */
void spool_batch_close(struct spool *s);
/* Frees the batch's memory (after spool_batch_close). */
void spool_batch_free(struct spool *s);

#endif
