/* The seccomp profiles: what a compromised sensor process would try first is refused, what it needs still works. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../helpers/fork_probe.h"
#include "../../../analyzer/confine.h"
#include "../../../capturer/confine.h"
#include "../../../responder/confine.h"
#include "../../../shipper/confine.h"
#include "daemon.h"
#include "sandbox.h"

/* Runs probe() in a child under the profile's PRODUCTION filter (also in sanitizer builds, whose own processes
 * get a wider one): the child's exit code is the probe's verdict (0 = as expected); a kill is 200 + the signal.
 * What the child wrote on stderr (the denial line) lands in `denial`. */
static char denial[512];

static int in_sandbox(enum sandbox_profile profile, int (*probe)(void))
{
    int errpipe[2];
    cr_assert_eq(pipe(errpipe), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(errpipe[1], STDERR_FILENO);
        close(errpipe[0]);
        char err[256];
        if (sandbox_apply_filter(profile, false, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            _exit(100);
        }
        _exit(probe());
    }
    close(errpipe[1]);
    ssize_t n = read(errpipe[0], denial, sizeof denial - 1);
    denial[n > 0 ? n : 0] = '\0';
    close(errpipe[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

#define KILLED (200 + SIGSYS)

/* Each probe makes one call the profile must refuse; reaching the return means it was not killed. */
static int exec_a_program(void)
{
    char *argv[] = {"/bin/true", NULL};
    execve("/bin/true", argv, NULL);
    return 1;
}

static int open_a_tcp_socket(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    return s >= 0 ? 0 : 1;
}

static int open_a_packet_socket(void)
{
    return socket(AF_PACKET, SOCK_RAW, 0) >= 0 ? 0 : 1;
}

static int ptrace_ourselves(void)
{
    ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    return 1;
}

static int become_root(void)
{
    return setuid(0) == 0 ? 0 : 1;
}

/* user namespace + network namespace: the usual first step to nf_tables as "root" */
static int clone_into_new_namespaces(void)
{
    long child = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
    if (child == 0)
        _exit(0);
    return child > 0 ? 1 : 2;
}

static int open_a_netfilter_socket(void)
{
    return socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER) >= 0 ? 0 : 1;
}

static int type_into_the_terminal(void)
{
    char c = 'x';
    ioctl(STDIN_FILENO, TIOCSTI, &c);
    return 1;
}

static int make_memory_executable(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 2;
    mprotect(p, 4096, PROT_READ | PROT_EXEC);
    return 1;
}

static int signal_another_process(void)
{
    kill(getppid(), SIGCONT);
    return 1;
}

static int make_the_process_dumpable(void)
{
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    return 1;
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
    if (kill(getppid(), 0) != 0) /* the liveness probe lurker-ctl's health uses */
        return 3;
    return usleep(1000) == 0 ? 0 : 4;
}

static void *thread_body(void *arg)
{
    return arg;
}

/* what the shipper needs: a thread (curl's resolver), TCP and UDP sockets, NETLINK_ROUTE (getaddrinfo) */
static int shipper_needs_still_work(void)
{
    pthread_t t;
    void *out = NULL;
    if (pthread_create(&t, NULL, thread_body, &out) != 0 || pthread_join(t, &out) != 0)
        return 1;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int u = socket(AF_INET6, SOCK_DGRAM, 0);
    int n = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0 || u < 0 || n < 0)
        return 2;
    close(s);
    close(u);
    close(n);
    return 0;
}

struct denied_call {
    const char *what;
    int (*probe)(void);
    const char *syscall;
};

static const struct denied_call every_profile_kills[] = {
    {"execve", exec_a_program, "execve"},
    {"ptrace", ptrace_ourselves, "ptrace"},
    {"setuid", become_root, "setuid"},
    {"namespace clone", clone_into_new_namespaces, "clone"},
    {"netfilter netlink socket", open_a_netfilter_socket, "socket"},
    {"TIOCSTI ioctl", type_into_the_terminal, "ioctl"},
    {"mprotect PROT_EXEC", make_memory_executable, "mprotect"},
    {"kill another process", signal_another_process, "kill"},
    {"prctl PR_SET_DUMPABLE", make_the_process_dumpable, "prctl"},
};

static void expect_kills(enum sandbox_profile profile, const char *name)
{
    for (size_t i = 0; i < sizeof every_profile_kills / sizeof every_profile_kills[0]; i++) {
        const struct denied_call *d = &every_profile_kills[i];
        int verdict = in_sandbox(profile, d->probe);
        cr_expect_eq(verdict, KILLED, "%s: %s was not killed (verdict %d)", name, d->what, verdict);
        char want[128];
        snprintf(want, sizeof want, "lurker: event=seccomp_denied syscall=%s action=kill", d->syscall);
        cr_expect(strstr(denial, want) != NULL, "%s: %s: no denial line, stderr: %s", name, d->what, denial);
    }
    cr_expect_eq(in_sandbox(profile, files_and_time_still_work), 0, "%s: files and time", name);
}

Test(sandbox, responder_kills_namespaces_netfilter_tiocsti_exec_and_sockets)
{
    expect_kills(SANDBOX_RESPONDER, "responder");
    cr_expect_eq(in_sandbox(SANDBOX_RESPONDER, open_a_tcp_socket), KILLED, "responder opens no socket");
    cr_expect_eq(in_sandbox(SANDBOX_RESPONDER, shipper_needs_still_work), KILLED, "responder makes no thread");
}

Test(sandbox, capturer_kills_namespaces_netfilter_tiocsti_exec_and_sockets)
{
    expect_kills(SANDBOX_CAPTURER, "capturer");
    cr_expect_eq(in_sandbox(SANDBOX_CAPTURER, open_a_tcp_socket), KILLED, "capturer opens no socket");
    cr_expect_eq(in_sandbox(SANDBOX_CAPTURER, open_a_packet_socket), KILLED, "capturer opens no new packet socket");
}

Test(sandbox, shipper_talks_http_with_threads_but_kills_namespaces_netfilter_tiocsti)
{
    expect_kills(SANDBOX_SHIPPER, "shipper");
    cr_expect_eq(in_sandbox(SANDBOX_SHIPPER, shipper_needs_still_work), 0, "shipper threads and sockets");
    cr_expect_eq(in_sandbox(SANDBOX_SHIPPER, open_a_packet_socket), KILLED, "shipper cannot sniff");
}

Test(sandbox, analyzer_kills_namespaces_netfilter_tiocsti_and_sockets)
{
    expect_kills(SANDBOX_ANALYZER, "analyzer");
    cr_expect_eq(in_sandbox(SANDBOX_ANALYZER, open_a_tcp_socket), KILLED, "the follow analyzer opens no socket");
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
    int code = in_child(writes_are_confined);
    unlink(existing);
    rmdir(other_dir);
    rmdir(allowed_dir);
    if (code == 77)
        cr_skip_test("this kernel has no Landlock");
    cr_assert_eq(code, 0, "probe step %d failed", code);
}

/* Landlock reads: each process reads only its own paths. The secret stands for a shared AWS credentials file, which
 * the shipper must read and the user's other processes can: a compromised responder or capturer must not. */
static char secret[64], spool[64];

static int secret_is_unreadable(void)
{
    errno = 0;
    int fd = open(secret, O_RDONLY);
    if (fd >= 0)
        return 1;
    if (errno != EACCES)
        return 2;
    if (open("/etc/passwd", O_RDONLY) >= 0 || errno != EACCES)
        return 3;
    return 0;
}

static int capturer_reads_only_its_spool(void)
{
    char err[256];
    struct capturer_policy policy;
    capturer_policy(&policy, "", spool);
    if (daemon_confine(&policy.daemon, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 10;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/flow.pcap", spool);
    int fd = open(path, O_CREAT | O_RDWR, 0600);
    if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) != 0)
        return 11;
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return 12;
    close(fd);
    return secret_is_unreadable();
}

static int responder_reads_nothing(void)
{
    char err[256];
    const struct daemon_policy policy = responder_policy("");
    if (daemon_confine(&policy, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 10;
    }
    return secret_is_unreadable();
}

static void make_secret_and_spool(void)
{
    snprintf(secret, sizeof secret, "/tmp/lurker-ll-credentials-%d", (int)getpid());
    snprintf(spool, sizeof spool, "/tmp/lurker-ll-spool-%d", (int)getpid());
    int fd = open(secret, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "[default]\n", 10), 10);
    close(fd);
    cr_assert_eq(mkdir(spool, 0700), 0);
}

static void remove_secret_and_spool(void)
{
    char path[128];
    const char *left[] = {"%s/flow.pcap", "%s/log/flows.jsonl", "%s/log"};
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        snprintf(path, sizeof path, left[i], spool);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(spool);
    snprintf(path, sizeof path, "%s-other", secret);
    unlink(path);
    unlink(secret);
}

/* Runs probe in a child beside a fresh secret and spool, then removes whatever the probes leave there. */
static void expect_probe_passes(int (*probe)(void))
{
    make_secret_and_spool();
    int code = in_child(probe);
    remove_secret_and_spool();
    cr_assert_eq(code, 0, "probe step %d failed", code);
}

Test(sandbox, capturer_cannot_read_outside_its_spool)
{
    expect_probe_passes(capturer_reads_only_its_spool);
}

Test(sandbox, responder_worker_cannot_read_any_file)
{
    expect_probe_passes(responder_reads_nothing);
}

/* The shipper's policy for an S3 shipper whose spool is DIR. */
static int shipper_confine_to(const char *dir, char *err, size_t errlen)
{
    static struct lurker_config cfg;
    static struct shipper_policy policy;
    cfg.shipper.storage = STORAGE_S3;
    snprintf(cfg.spool.directory, sizeof cfg.spool.directory, "%s", dir);
    if (shipper_policy(&policy, &cfg, err, errlen) != 0)
        return -1;
    return daemon_confine(&policy.daemon, err, errlen);
}

/* The shipper reads its spool and its credentials file (AWS_SHARED_CREDENTIALS_FILE, here the secret), not another
 * file of the user's beside it, nor /etc/passwd. */
static int shipper_reads_only_its_paths(void)
{
    char other[96], err[256];
    snprintf(other, sizeof other, "%s-other", secret);
    int fd = open(other, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || close(fd) != 0)
        return 9;
    setenv("AWS_SHARED_CREDENTIALS_FILE", secret, 1);
    if (shipper_confine_to(spool, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        unlink(other);
        return 10;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/flow.pcap", spool);
    fd = open(path, O_CREAT | O_RDWR, 0600);
    if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) != 0)
        return 11;
    char buf[16];
    fd = open(secret, O_RDONLY);
    if (fd < 0 || read(fd, buf, sizeof buf) != 10 || close(fd) != 0)
        return 12;
    errno = 0;
    fd = open(other, O_RDONLY);
    if (fd >= 0 || errno != EACCES)
        return 13;
    if (open("/etc/passwd", O_RDONLY) >= 0 || errno != EACCES)
        return 14;
    return 0;
}

Test(sandbox, shipper_reads_its_credentials_and_nothing_else_of_the_user)
{
    expect_probe_passes(shipper_reads_only_its_paths);
}

/* Without AWS_SHARED_CREDENTIALS_FILE it is ~/.aws/credentials: ~/.aws is readable (a credentials file replaced by
 * rename stays readable), the rest of the home directory is not. */
static char home[64];
static int rotate_pipe[2], rotated_pipe[2];

static int shipper_reads_home_aws_only(void)
{
    char aws[96], renamed[128], tmp[128], other[96], err[256];
    snprintf(aws, sizeof aws, "%s/.aws", home);
    snprintf(renamed, sizeof renamed, "%s/credentials", aws);
    snprintf(tmp, sizeof tmp, "%s/credentials.new", aws);
    snprintf(other, sizeof other, "%s/notes", home);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    setenv("HOME", home, 1);
    if (shipper_confine_to(spool, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 10;
    }
    /* the rotation a credentials tool does, by the (unconfined) parent once this process is confined */
    char go = 'x';
    if (write(rotate_pipe[1], &go, 1) != 1 || read(rotated_pipe[0], &go, 1) != 1)
        return 11;
    int fd = open(renamed, O_RDONLY);
    if (fd < 0)
        return 12;
    close(fd);
    errno = 0;
    if (open(other, O_RDONLY) >= 0 || errno != EACCES)
        return 13;
    return 0;
}

Test(sandbox, shipper_reads_home_aws_and_not_the_rest_of_home)
{
    snprintf(home, sizeof home, "/tmp/lurker-ll-home-%d", (int)getpid());
    snprintf(spool, sizeof spool, "/tmp/lurker-ll-spool-%d", (int)getpid());
    char aws[96], path[3][128];
    snprintf(aws, sizeof aws, "%s/.aws", home);
    snprintf(path[0], sizeof path[0], "%s/credentials", aws);
    snprintf(path[1], sizeof path[1], "%s/credentials.new", aws);
    snprintf(path[2], sizeof path[2], "%s/notes", home);
    cr_assert_eq(mkdir(home, 0700), 0);
    cr_assert_eq(mkdir(aws, 0700), 0);
    cr_assert_eq(mkdir(spool, 0700), 0);
    for (int i = 0; i < 3; i++) {
        int fd = open(path[i], O_CREAT | O_WRONLY | O_TRUNC, 0600);
        cr_assert_geq(fd, 0);
        close(fd);
    }
    cr_assert_eq(pipe(rotate_pipe), 0);
    cr_assert_eq(pipe(rotated_pipe), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        _exit(shipper_reads_home_aws_only());
    close(rotate_pipe[1]); /* a child that exits early ends the read below */
    close(rotated_pipe[0]);
    char go;
    if (read(rotate_pipe[0], &go, 1) == 1) {
        cr_expect_eq(rename(path[1], path[0]), 0);
        cr_expect_eq(write(rotated_pipe[1], &go, 1), 1);
    }
    int status;
    waitpid(pid, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
    close(rotate_pipe[0]);
    close(rotated_pipe[1]);
    for (int i = 0; i < 3; i++)
        unlink(path[i]);
    rmdir(aws);
    rmdir(home);
    rmdir(spool);
    cr_assert_eq(code, 0, "probe step %d failed", code);
}

/* --follow reads the archive (the "spool" directory here) and writes its log's directory, nothing else */
static int analyzer_reads_only_the_archive(void)
{
    char log_dir[96], log[128], archived[128], err[256];
    snprintf(log_dir, sizeof log_dir, "%s/log", spool);
    snprintf(log, sizeof log, "%s/flows.jsonl", log_dir);
    snprintf(archived, sizeof archived, "%s/flow.pcap", spool); /* the archive holds one pcap already */
    int fd = open(archived, O_CREAT | O_WRONLY, 0600);
    if (fd < 0 || close(fd) != 0 || mkdir(log_dir, 0700) != 0)
        return 9;
    struct follow_policy policy;
    if (follow_policy(&policy, spool, log, err, sizeof err) != 0 ||
        daemon_confine(&policy.daemon, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 10;
    }
    fd = open(log, O_CREAT | O_WRONLY | O_APPEND, 0640);
    if (fd < 0 || write(fd, "{}\n", 3) != 3 || close(fd) != 0)
        return 11;
    if (open(archived, O_CREAT | O_WRONLY, 0600) >= 0 || errno != EACCES)
        return 12; /* the archive is read-only to it */
    return secret_is_unreadable();
}

Test(sandbox, follow_analyzer_reads_only_the_archive)
{
    expect_probe_passes(analyzer_reads_only_the_archive);
}
