/* Whether the capturer is recording: the ACK path acknowledges nothing while a capturer that ran on this shared
 * memory is gone (killed, crashed, restarting), so clients keep retransmitting until it records them; before the ACK
 * path existed those retransmissions were what let a flow survive a dead capturer, and an ACK would end them.
 *
 * Checked for every segment the ACK path would acknowledge. The slot's pid is read from shared memory; a new pid is
 * checked once against its registration (shm_process_alive: a reused pid is not the capturer) and watched through a
 * pidfd, which says "exited" the moment the process dies, before its parent reaps it (kill(pid, 0) would still
 * succeed on the zombie; it is the fallback where pidfds are missing). A segment that never saw a capturer (the
 * responder running alone) holds nothing back. The capturer registers only once its capture handle is open.
 *
 * Alive is not enough: a capturer killed a few milliseconds after a packet arrived has not journaled it yet. The
 * capturer publishes recorded_through (counters.h): every packet captured up to that time is processed and in
 * its crash journal. An ACK for a segment captured later waits (ack_path's queue) until the capturer gets there: up
 * to its block timeout (CAPTURE_TIMEOUT_MS) and a journal write later, under a client's minimum RTO (200 ms). */
#ifndef LURKER_RESPONDER_RECORDER_WATCH_H
#define LURKER_RESPONDER_RECORDER_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "ack_path.h"
#include "shm.h"

struct recorder_watch {
    const struct shm_segment *seg;
    int32_t pid;               /* the pid last checked against its registration */
    bool pid_registered;       /* ... and whether it passed */
    int pidfd;                 /* -1: none (not registered, or pidfd_open unavailable) */
};

void recorder_watch_init(struct recorder_watch *w, const struct shm_segment *seg);
void recorder_watch_close(struct recorder_watch *w);

/* For ack_path's hook: whether the capturer has recorded (and journaled) what arrived at ts_us (unix us), may still
 * do so, or is not running. A segment that never saw a capturer: RECORDED. */
enum recording recorder_watch_state(void *watch, uint64_t ts_us);

#endif
