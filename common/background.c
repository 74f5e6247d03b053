#include "background.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "log.h"

void background_scheduling(bool enabled, const char *process)
{
    if (!enabled)
        return;
    struct sched_param param = {.sched_priority = 0};
    if (sched_setscheduler(0, SCHED_IDLE, &param) != 0) {
        log_warn("event=sched_idle_failed process=%s error=\"%s\" (it competes with the responder for the CPU)",
                 process, strerror(errno));
        return;
    }
    log_info("event=sched_idle process=%s", process);
}
