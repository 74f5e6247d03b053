/* The daemon skeleton: confinement happens in its fixed order (drop, the process's own step as the user, Landlock,
 * seccomp) and ends in the state /proc reports for a confined lurker process; signals set the flags; fatal() says
 * why and exits 1; a daemon takes and gives back its slot in the shared memory. Runs as root (tests/run). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "../../helpers/fork_probe.h"

/* The value of FIELD in /proc/self/status, "" when absent. */
static const char *proc_status(const char *field, char *out, size_t cap)
{
    char line[256];
    size_t n = strlen(field);
    out[0] = '\0';
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return out;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            snprintf(out, cap, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    fclose(f);
    return out;
}

static bool can_create(const char *dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/probe", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0)
        return false;
    close(fd);
    unlink(path);
    return true;
}

/* Both world-writable: a write refused beneath OUTSIDE is Landlock's refusal, not the file mode's. */
static char inside[64], outside[64];
static uid_t nobody;
static int as_user_ran;

static int as_user_step(void *arg, char *err, size_t errlen)
{
    (void)arg, (void)err, (void)errlen;
    char v[128];
    if (getuid() != nobody || geteuid() != nobody)
        return as_user_ran = 1, -1; /* before the drop */
    if (strcmp(proc_status("Seccomp", v, sizeof v), "0") != 0 || !can_create(outside))
        return as_user_ran = 2, -1; /* after the sandbox */
    as_user_ran = 3;
    return 0;
}

static int confine_as_nobody(void)
{
    const char *writable[1] = {inside};
    const struct daemon_policy policy = {.user = "nobody",
                                         .as_user = as_user_step,
                                         .files = {.writable = writable, .nwritable = 1, .confine_reads = true},
                                         .calls = SANDBOX_CAPTURER};
    char err[256], uid[128], want_uid[128], v[128];
    if (daemon_confine(&policy, err, sizeof err) != 0) {
        fprintf(stderr, "daemon_confine: %s\n", err);
        return 10 + as_user_ran;
    }
    if (as_user_ran != 3)
        return 20;
    snprintf(want_uid, sizeof want_uid, "%u\t%u\t%u\t%u", nobody, nobody, nobody, nobody);
    if (strcmp(proc_status("Uid", uid, sizeof uid), want_uid) != 0)
        return 21;
    if (strcmp(proc_status("CapEff", v, sizeof v), "0000000000000000") != 0 ||
        strcmp(proc_status("CapPrm", v, sizeof v), "0000000000000000") != 0)
        return 22;
    if (strcmp(proc_status("NoNewPrivs", v, sizeof v), "1") != 0)
        return 23;
    if (strcmp(proc_status("Seccomp", v, sizeof v), "2") != 0)
        return 24;
    if (!can_create(inside))
        return 25;
    errno = 0;
    if (can_create(outside) || errno != EACCES)
        return 26;
    errno = 0;
    if (open("/etc/passwd", O_RDONLY) >= 0 || errno != EACCES)
        return 27;
    return 0;
}

Test(daemon, confines_in_order_drop_then_own_step_then_landlock_then_seccomp)
{
    cr_assert_eq(geteuid(), 0, "needs root, as tests/run gives");
    struct passwd *pw = getpwnam("nobody");
    cr_assert_not_null(pw);
    nobody = pw->pw_uid;
    snprintf(inside, sizeof inside, "/tmp/lurker-daemon-in-%d", (int)getpid());
    snprintf(outside, sizeof outside, "/tmp/lurker-daemon-out-%d", (int)getpid());
    cr_assert_eq(mkdir(inside, 0777), 0);
    cr_assert_eq(mkdir(outside, 0777), 0);
    chmod(inside, 0777); /* whatever the umask */
    chmod(outside, 0777);
    int code = in_child(confine_as_nobody);
    rmdir(inside);
    rmdir(outside);
    cr_assert_eq(code, 0, "probe step %d failed", code);
}

static int failing_step(void *arg, char *err, size_t errlen)
{
    (void)arg;
    snprintf(err, errlen, "spool: refused");
    return -1;
}

/* A failing step stops the sequence: no sandbox is applied after it, and its message comes back. */
static int step_failure_stops_the_sequence(void)
{
    const struct daemon_policy policy = {.as_user = failing_step, .calls = SANDBOX_CAPTURER};
    char err[256], v[128];
    if (daemon_confine(&policy, err, sizeof err) != -1 || strcmp(err, "spool: refused") != 0)
        return 1;
    return strcmp(proc_status("Seccomp", v, sizeof v), "0") == 0 ? 0 : 2;
}

Test(daemon, a_failing_step_stops_before_the_sandbox)
{
    int code = in_child(step_failure_stops_the_sequence);
    cr_assert_eq(code, 0, "probe step %d failed", code);
}

static int unknown_user_is_refused(void)
{
    const struct daemon_policy policy = {.user = "lurker-no-such-user", .calls = SANDBOX_CAPTURER};
    char err[256];
    if (daemon_confine(&policy, err, sizeof err) != -1 || !strstr(err, "does not exist"))
        return 1;
    return getuid() == 0 ? 0 : 2;
}

Test(daemon, an_unknown_user_is_refused_before_anything_changes)
{
    int code = in_child(unknown_user_is_refused);
    cr_assert_eq(code, 0, "probe step %d failed", code);
}

static int signals_set_the_flags(void)
{
    daemon_catch_signals(DAEMON_IGNORE_SIGPIPE | DAEMON_SIGHUP_RELOADS);
    if (daemon_stop || daemon_reload)
        return 1;
    raise(SIGHUP);
    if (daemon_stop || !daemon_reload)
        return 2;
    raise(SIGPIPE); /* ignored: the process lives on */
    raise(SIGTERM);
    if (daemon_stop != SIGTERM)
        return 3;
    raise(SIGINT);
    return daemon_stop == SIGINT ? 0 : 4;
}

Test(daemon, signals_set_the_stop_and_reload_flags)
{
    int code = in_child(signals_set_the_flags);
    cr_assert_eq(code, 0, "probe step %d failed", code);
}

/* Without the flags, SIGHUP and SIGPIPE keep their default action (the analyzer dies with its reader). */
static int defaults_stay_without_flags(void)
{
    daemon_catch_signals(0);
    struct sigaction hup, pipe_;
    sigaction(SIGHUP, NULL, &hup);
    sigaction(SIGPIPE, NULL, &pipe_);
    return hup.sa_handler == SIG_DFL && pipe_.sa_handler == SIG_DFL ? 0 : 1;
}

Test(daemon, sighup_and_sigpipe_keep_their_default_unless_asked)
{
    cr_assert_eq(in_child(defaults_stay_without_flags), 0);
}

Test(daemon, fatal_logs_what_and_why_and_exits_1)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        fatal("spool directory", "No space left on device");
    }
    close(fds[1]);
    char out[512] = "";
    ssize_t n = read(fds[0], out, sizeof out - 1);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    cr_assert_gt(n, 0);
    cr_assert(strstr(out, " error lurker event=fatal what=\"spool directory\" detail=\"No space left on device\"\n"),
              "%s", out);
}

Test(daemon, join_takes_the_process_slot_and_leave_gives_it_back)
{
    static struct lurker_config cfg;
    snprintf(cfg.shm_name, sizeof cfg.shm_name, "/lurker-test-daemon-%d", (int)getpid());
    cfg.queue_slots = 64;
    shm_remove(cfg.shm_name);
    struct shm_segment seg, observer;
    char err[256];
    daemon_join(&cfg, PROC_SHIPPER, &seg);
    cr_assert_eq(shm_attach_existing(cfg.shm_name, &observer, err, sizeof err), 0, "%s", err);
    cr_assert(shm_process_alive(&observer, PROC_SHIPPER));
    cr_assert_not(shm_process_alive(&observer, PROC_CAPTURER));
    daemon_leave(&seg, PROC_SHIPPER);
    cr_assert_not(shm_process_alive(&observer, PROC_SHIPPER));
    shm_detach(&observer);
    shm_remove(cfg.shm_name);
}
