/* The skeleton every lurker daemon shares (responder worker, capturer, shipper; the analyzer's --follow mode):
 * - signals: SIGTERM and SIGINT set daemon_stop (to the signal's number), SIGHUP sets daemon_reload where asked;
 *   SIGPIPE is ignored where asked (a peer that hangs up is an error return, not a death);
 * - fatal(): one log line, exit status 1;
 * - its slot in the shared memory (shm.h): joined, then kept alive by shm_heartbeat, left at exit;
 * - confinement in one fixed order, whatever the process: drop privileges (privdrop.h), Landlock, seccomp
 *   (sandbox.h). The drop comes first because it reads /etc/passwd and calls setresuid, which neither Landlock nor
 *   seccomp would allow afterwards; Landlock before seccomp because no profile allows the landlock_* calls.
 *   Each process passes its policy: the user, what it must do as that user before the sandbox closes, the paths
 *   Landlock leaves it and its seccomp profile. No process keeps a capability. */
#ifndef LURKER_DAEMON_H
#define LURKER_DAEMON_H

#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "sandbox.h"
#include "shm.h"

enum daemon_signal_flags {
    DAEMON_IGNORE_SIGPIPE = 1u << 0,
    DAEMON_SIGHUP_RELOADS = 1u << 1,
};

extern volatile sig_atomic_t daemon_stop;   /* 0, or the number of the signal that asked for the stop */
extern volatile sig_atomic_t daemon_reload; /* set by SIGHUP; the process clears it once it has reloaded */

void daemon_catch_signals(unsigned flags);

_Noreturn void fatal(const char *what, const char *detail);

/* Attaches the segment and takes P's slot, or fatal(). */
void daemon_join(const struct lurker_config *cfg, enum lurker_process p, struct shm_segment *seg);
void daemon_leave(struct shm_segment *seg, enum lurker_process p);

struct daemon_policy {
    const char *user;                                    /* NULL or "": keep the current identity */
    int (*as_user)(void *arg, char *err, size_t errlen); /* after the drop, before Landlock; NULL: nothing */
    void *as_user_arg;
    struct sandbox_paths files;                          /* Landlock (read once as_user has run) */
    enum sandbox_profile calls;                          /* seccomp */
};

/* Applies P to the calling thread and every thread it creates afterwards. Returns 0, or -1 with a message in err.
 * A kernel without Landlock is logged (event=landlock_unavailable), not an error. */
int daemon_confine(const struct daemon_policy *p, char *err, size_t errlen);

#endif
