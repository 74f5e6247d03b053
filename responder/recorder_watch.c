#include "recorder_watch.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TIMESTAMP_SLACK_US 50

void recorder_watch_init(struct recorder_watch *w, const struct shm_segment *seg)
{
    w->seg = seg;
    w->pid = 0;
    w->pid_registered = false;
    w->pidfd = -1;
}

void recorder_watch_close(struct recorder_watch *w)
{
    if (w->pidfd >= 0)
        close(w->pidfd);
    w->pidfd = -1;
}

static void watch_pid(struct recorder_watch *w, int32_t pid)
{
    recorder_watch_close(w);
    w->pid = pid;
    w->pid_registered = shm_process_alive(w->seg, PROC_CAPTURER);
#ifdef SYS_pidfd_open
    if (w->pid_registered)
        w->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
#endif
}

static bool exited(const struct recorder_watch *w)
{
    if (w->pidfd >= 0) {
        struct pollfd p = {.fd = w->pidfd, .events = POLLIN};
        return poll(&p, 1, 0) != 0; /* readable (or an error): the process is gone */
    }
    return !(kill(w->pid, 0) == 0 || errno == EPERM);
}

enum recording recorder_watch_state(void *watch, uint64_t ts_us)
{
    struct recorder_watch *w = watch;
    const struct shm_process_slot *slot = &w->seg->hdr->procs[PROC_CAPTURER];
    int32_t pid = atomic_load(&slot->pid);
    if (pid <= 0) /* stopped (a clean stop clears the pid), or never started on this segment */
        return atomic_load(&slot->started_ns) == 0 ? RECORDING_DONE : RECORDING_DOWN;
    if (pid != w->pid)
        watch_pid(w, pid);
    if (!w->pid_registered || exited(w))
        return RECORDING_DOWN;
    /* the capturer's own timestamp of the same packet may be a few microseconds earlier than ours */
    return counter_get(w->seg, CNT_recorded_through) + TIMESTAMP_SLACK_US >= ts_us ? RECORDING_DONE
                                                                                      : RECORDING_WAIT;
}
