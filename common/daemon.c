#include "daemon.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "privdrop.h"

volatile sig_atomic_t daemon_stop, daemon_reload;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        daemon_reload = 1;
    else
        daemon_stop = sig;
}

void daemon_catch_signals(unsigned flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (flags & DAEMON_SIGHUP_RELOADS)
        sigaction(SIGHUP, &sa, NULL);
    if (flags & DAEMON_IGNORE_SIGPIPE)
        signal(SIGPIPE, SIG_IGN);
}

_Noreturn void fatal(const char *what, const char *detail)
{
    log_error("event=fatal what=\"%s\" detail=\"%s\"", what, detail);
    exit(1);
}

void daemon_join(const struct lurker_config *cfg, enum lurker_process p, struct shm_segment *seg)
{
    char err[CONFIG_ERR_MAX] = "";
    if (shm_attach(cfg->shm_name, cfg->queue_slots, seg, err, sizeof err) != 0)
        fatal("shared memory", err);
    if (err[0])
        log_warn("event=shm_note detail=\"%s\"", err);
    if (shm_register(seg, p, err, sizeof err) != 0)
        fatal("shared memory", err);
}

void daemon_leave(struct shm_segment *seg, enum lurker_process p)
{
    shm_unregister(seg, p);
    shm_detach(seg);
}

int daemon_confine(const struct daemon_policy *p, char *err, size_t errlen)
{
    if (privdrop(p->user, err, errlen) != 0)
        return -1;
    if (p->as_user && p->as_user(p->as_user_arg, err, errlen) != 0)
        return -1;
    int rc = sandbox_restrict_paths(&p->files, err, errlen);
    if (rc == 0)
        log_warn("event=landlock_unavailable reason=\"%s\"", err);
    if (rc < 0)
        return -1;
    return sandbox_apply(p->calls, err, errlen);
}
