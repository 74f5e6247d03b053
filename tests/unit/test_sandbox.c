/* The seccomp profiles: what a compromised sensor process would try first is refused, what it needs still works. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

/* Sanitizer builds allow ptrace (LeakSanitizer needs it at exit), so there the refusal is checked with a syscall
 * no build allows. */
static int ptrace_is_refused(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, NULL) == -1 && errno == EPERM ? 0 : 1;
#else
    return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == -1 && errno == EPERM ? 0 : 1;
#endif
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

/* Landlock: writes only beneath the allowed directory; reads anywhere. */
static char allowed_dir[64], other_dir[64];

static int writes_are_confined(void)
{
    const char *dirs[] = {allowed_dir};
    char err[256];
    int rc = sandbox_restrict_writes(dirs, 1, err, sizeof err);
    if (rc == 0)
        return 77; /* no Landlock on this kernel */
    if (rc != 1)
        return 1;
    char path[128];
    snprintf(path, sizeof path, "%s/ok.pcap", allowed_dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) != 0)
        return 2;
    char renamed[160];
    snprintf(renamed, sizeof renamed, "%s/ok2.pcap", allowed_dir);
    if (rename(path, renamed) != 0 || unlink(renamed) != 0)
        return 3;
    snprintf(path, sizeof path, "%s/evil", other_dir);
    if (open(path, O_CREAT | O_WRONLY, 0600) != -1 || errno != EACCES)
        return 4;
    snprintf(path, sizeof path, "%s/existing", other_dir);
    if (open(path, O_WRONLY) != -1 || errno != EACCES)
        return 5;
    if (unlink(path) != -1 || errno != EACCES)
        return 6;
    int rd = open(path, O_RDONLY);
    if (rd < 0)
        return 7;
    close(rd);
    char *argv[] = {"/bin/true", NULL};
    execve("/bin/true", argv, NULL);
    return errno == EACCES ? 0 : 8;
}

Test(sandbox, landlock_confines_writes_to_the_given_directories)
{
    snprintf(allowed_dir, sizeof allowed_dir, "/tmp/lurker-ll-ok-%d", (int)getpid());
    snprintf(other_dir, sizeof other_dir, "/tmp/lurker-ll-no-%d", (int)getpid());
    cr_assert_eq(mkdir(allowed_dir, 0700), 0);
    cr_assert_eq(mkdir(other_dir, 0700), 0);
    char existing[128];
    snprintf(existing, sizeof existing, "%s/existing", other_dir);
    int fd = open(existing, O_CREAT | O_WRONLY, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    pid_t pid = fork();
    if (pid == 0)
        _exit(writes_are_confined());
    int status;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    unlink(existing);
    rmdir(other_dir);
    rmdir(allowed_dir);
    if (code == 77)
        cr_skip_test("this kernel has no Landlock");
    cr_assert_eq(code, 0, "probe step %d failed", code);
}
