/* Start-up recovery from the crash journal, before capture starts and before this process journals anything.
 *
 * Every segment in spool/.journal/ then belongs to a dead capturer (the shared-memory slot admits one live capturer
 * per instance, and this one has not created its own yet). Segments are grouped by run (the random run id in their
 * header: pids are reused) and replayed run by run, oldest first, each run's segments in sequence (replay.h). Every
 * flow left over is written through the normal spool path, with the run's link type, under the name the dead
 * process would have used, marked early and truncated; then the run's segments are deleted. A flow recovered twice
 * (the dead process renamed its pcap but died before its FLOW_DONE reached the journal) gets the same name, hence
 * the same S3 key; if that pcap is still in the spool with the same bytes it is left as it is.
 * A segment whose header is unreadable (cut at creation) is deleted and counted. */
#ifndef LURKER_CAPTURER_RECOVER_H
#define LURKER_CAPTURER_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "replay.h"
#include "spool.h"

#define RECOVER_MAX_SEGMENTS 65536u

struct tracker;

/* Where open flows go back to: the live tracker, its journal started (this run's own segments are not replayed).
 * now_real_us: the wall clock, against the packets' timestamps (how long each flow has been idle). */
struct recover_adopt {
    struct tracker *tr;
    uint64_t now_mono_us, now_real_us;
};

struct recover_stats {
    uint64_t runs, segments, bad_segments, bad_tails, records;
    uint64_t flows_recovered;   /* left open by a dead run: adopted, or written now (flows_written_now) */
    uint64_t flows_adopted;     /* back in the live flow table (tracker_adopt) */
    uint64_t flows_written_now; /* written to the spool at start */
    uint64_t flows_present;     /* already in the spool, same bytes */
    uint64_t flows_not_written; /* handed to the spool but dropped there (quota, write error: counted there) */
    uint64_t flows_done;        /* retired by FLOW_DONE: not written again */
    uint64_t packets_skipped;
    uint64_t flows_cut;         /* handed out early at a flow or memory bound (replay.h) */
    uint64_t memory_peak;       /* most flow bytes held at once while replaying */
    uint64_t bytes;             /* journal bytes read */
};

/* journal_dirfd: spool/.journal. The spool must not be in use by another thread. LIMITS are live capture's own
 * (replay.h): flows held at once and per flow. adopt: NULL writes every open flow now. Returns 0 (whatever the
 * journal held), or -1 when the directory cannot be read. */
int recover_journal(int journal_dirfd, struct spool *s, const struct prefix *local, size_t nlocal,
                    const struct replay_limits *limits, const struct recover_adopt *adopt,
                    struct recover_stats *st);

#endif
