/* Background scheduling for the sensor's processes that may lag: the capturer and the shipper.
 *
 * On one core the responder's answers are the only time-critical work: a SYN+ACK that comes late is a SYN+ACK the
 * scanner never sees. The capturer may lag by seconds (its packets wait in the kernel's ring buffer, and a ring
 * overflow is counted in kernel_drops) and the shipper by minutes. Under SCHED_IDLE the kernel gives them the CPU only
 * when no normal task wants it and preempts them at once when the responder wakes, so a flood can never make the
 * responder wait behind them. Unprivileged processes may always lower their own policy, so this needs no capability;
 * threads created afterwards inherit it. */
#ifndef LURKER_COMMON_BACKGROUND_H
#define LURKER_COMMON_BACKGROUND_H

#include <stdbool.h>

/* enabled: switch the calling thread (and the threads it creates from now on) to SCHED_IDLE. Logs the outcome;
 * a failure is logged and ignored (the process still works, only without the priority guarantee). */
void background_scheduling(bool enabled, const char *process);

#endif
