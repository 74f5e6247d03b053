/* The seccomp profiles: what a compromised sensor process would try first is refused, what it needs still works. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

/* Runs probe() in a child under the profile; the child's exit code is the probe's verdict (0 = as expected). */
static int in_sandbox(enum sandbox_profile profile, int (*probe)(void))
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        char err[256];
        if (sandbox_apply(profile, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            _exit(100);
        }
        _exit(probe());
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

static int exec_is_refused(void)
{
    char *argv[] = {"/bin/true", NULL};
    execve("/bin/true", argv, NULL);
    return errno == EPERM ? 0 : 1;
}

static int new_sockets_are_refused(void)
{
    if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EPERM)
        return 1;
    if (socket(AF_PACKET, SOCK_RAW, 0) != -1 || errno != EPERM)
        return 2;
    return 0;
}

static int ptrace_is_refused(void)
{
    return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1 && errno == EPERM ? 0 : 1;
}

static int setuid_is_refused(void)
{
    return setuid(0) == -1 && errno == EPERM ? 0 : 1;
}

static int files_and_time_still_work(void)
{
    char path[] = "/tmp/lurker-sandbox-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, "x", 1) != 1 || fsync(fd) != 0 || close(fd) != 0)
        return 1;
    char renamed[64];
    snprintf(renamed, sizeof renamed, "%s.done", path);
    if (rename(path, renamed) != 0 || unlink(renamed) != 0)
        return 2;
    void *p = malloc(1 << 20);
    free(p);
    return usleep(1000) == 0 ? 0 : 3;
}

static int shipper_may_open_tcp_but_not_packet_sockets(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return 1;
    close(s);
    if (socket(AF_PACKET, SOCK_RAW, 0) != -1 || errno != EPERM)
        return 2;
    char *argv[] = {"/bin/true", NULL};
    execve("/bin/true", argv, NULL);
    return errno == EPERM ? 0 : 3;
}

Test(sandbox, responder_and_capturer_refuse_exec_sockets_ptrace_setuid)
{
    enum sandbox_profile profiles[] = {SANDBOX_RESPONDER, SANDBOX_CAPTURER};
    for (size_t i = 0; i < 2; i++) {
        cr_expect_eq(in_sandbox(profiles[i], exec_is_refused), 0, "profile %zu: execve", i);
        cr_expect_eq(in_sandbox(profiles[i], new_sockets_are_refused), 0, "profile %zu: socket", i);
        cr_expect_eq(in_sandbox(profiles[i], ptrace_is_refused), 0, "profile %zu: ptrace", i);
        cr_expect_eq(in_sandbox(profiles[i], setuid_is_refused), 0, "profile %zu: setuid", i);
        cr_expect_eq(in_sandbox(profiles[i], files_and_time_still_work), 0, "profile %zu: files", i);
    }
}

Test(sandbox, shipper_talks_tcp_but_cannot_exec_or_sniff)
{
    cr_assert_eq(in_sandbox(SANDBOX_SHIPPER, shipper_may_open_tcp_but_not_packet_sockets), 0);
    cr_assert_eq(in_sandbox(SANDBOX_SHIPPER, files_and_time_still_work), 0);
}
