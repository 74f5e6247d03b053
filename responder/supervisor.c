#include "supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

static volatile sig_atomic_t forward_signal;
static pid_t parent_pid;

static void on_signal(int sig)
{
    forward_signal = sig;
}

int supervisor_fork(void (*release)(void *arg), void (*cleanup)(void *arg), void *arg)
{
    parent_pid = getpid();
    /* block the stop signals across fork so none is lost between fork and the handlers being in place */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, &old);
    pid_t child = fork();
    if (child < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return 0;
    }
    release(arg);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: waitpid returns EINTR and we forward */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);

    int status = 0;
    for (;;) {
        pid_t w = waitpid(child, &status, 0);
        if (w == child)
            break;
        if (w < 0 && errno != EINTR) {
            status = 1 << 8;
            break;
        }
        if (forward_signal) {
            kill(child, forward_signal == SIGHUP ? SIGTERM : forward_signal);
            forward_signal = 0;
        }
    }
    if (WIFSIGNALED(status))
        log_warn("event=child_died signal=%d", WTERMSIG(status));
    cleanup(arg);
    exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

void supervisor_child_bind(void)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
    if (getppid() != parent_pid) /* the parent died before the line above took effect */
        raise(SIGTERM);
}
