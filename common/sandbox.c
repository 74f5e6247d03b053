#include "sandbox.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What every lurker process does: memory, files in its own directories, time, signals, futexes, logging.
 * ioctl, prctl, kill, tgkill, mprotect and clone are not here: they are allowed by argument below. */
static const int base_syscalls[] = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
    SCMP_SYS(close), SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
    SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(statfs), SCMP_SYS(getdents64),
    SCMP_SYS(getdents),
    SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
    SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(syncfs), SCMP_SYS(ftruncate),
    SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(pipe), SCMP_SYS(pipe2),
    SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
    SCMP_SYS(getcwd), SCMP_SYS(umask), SCMP_SYS(fchmod), SCMP_SYS(flock),
    SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday),
    SCMP_SYS(time), SCMP_SYS(clock_getres),
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(rt_sigpending), SCMP_SYS(rt_sigsuspend), SCMP_SYS(restart_syscall),
    SCMP_SYS(alarm), SCMP_SYS(setitimer),
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(eventfd2),
    SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
    SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid), SCMP_SYS(getgroups),
    SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(getrandom),
    SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(getrusage), SCMP_SYS(sysinfo),
    SCMP_SYS(uname), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(arch_prctl),
    SCMP_SYS(set_tid_address), SCMP_SYS(membarrier),
    /* sockets already open (pcap, raw) and the loopback-free local ones libc uses for syslog/nscd lookups */
    SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(recvmmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
    SCMP_SYS(sendmmsg), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(getsockname),
    SCMP_SYS(getpeername), SCMP_SYS(shutdown),
};

/* The responder watches the capturer's exit through a pidfd (responder/recorder_watch.h): a killed capturer is
 * seen at once, before its parent reaps it (kill(pid, 0) still succeeds on a zombie). */
static const int responder_syscalls[] = {SCMP_SYS(pidfd_open)};

/* The shipper speaks HTTP(S): new TCP/UDP sockets (DNS), connect, and threads for curl's resolver. */
static const int shipper_syscalls[] = {
    SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(socketpair), SCMP_SYS(mincore),
};

/* The follow-mode analyzer waits on inotify for new pcaps. */
static const int analyzer_syscalls[] = {
    SCMP_SYS(inotify_init1), SCMP_SYS(inotify_add_watch), SCMP_SYS(inotify_rm_watch),
};

/* LeakSanitizer stops the world at exit with a cloned tracer (not a thread: no CLONE_THREAD) that ptraces the
 * process and names itself the ptracer with prctl: sanitizer builds (tests only) allow that. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifdef SANITIZER_BUILD
#define SANITIZER_ALLOWANCES true
#else
#define SANITIZER_ALLOWANCES false
#endif
static const int sanitizer_syscalls[] = {SCMP_SYS(clone), SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(waitid),
                                         SCMP_SYS(prctl),  SCMP_SYS(kill),   SCMP_SYS(tgkill)};

/* The ioctls a sandboxed process may make: terminal queries for logging, non-blocking and readable-byte counts.
 * Never TIOCSTI (typing into a terminal) nor any interface or device control. */
static const unsigned long allowed_ioctls[] = {TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX};

/* prctl: reading state and naming threads; never PR_SET_DUMPABLE, PR_SET_PTRACER, PR_SET_MM and the like. */
static const int allowed_prctls[] = {PR_GET_NAME, PR_SET_NAME, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS,
                                     PR_GET_SECCOMP, PR_CAPBSET_READ, PR_GET_KEEPCAPS, PR_SET_VMA};

/* clone may make a thread, never a process or a namespace: CLONE_THREAD set, every CLONE_NEW* clear. */
#define CLONE_NAMESPACES                                                                                              \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

/* ---- the kill on a denied call, with one line saying which ---- */

#define SYSCALL_NAME_SLOTS 512
static char syscall_names[SYSCALL_NAME_SLOTS][24];

static void name_syscalls(void)
{
    for (int nr = 0; nr < SYSCALL_NAME_SLOTS; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (name)
            snprintf(syscall_names[nr], sizeof syscall_names[nr], "%s", name);
        free(name);
    }
}

static size_t append(char *buf, size_t n, size_t cap, const char *s)
{
    while (*s && n < cap)
        buf[n++] = *s++;
    return n;
}

/* SIGSYS from the filter: one line on stderr (async-signal-safe: no stdio, no allocation), then the default action
 * of SIGSYS kills the process once the handler returns. */
static void on_denied_syscall(int sig, siginfo_t *info, void *context)
{
    (void)context;
    char line[160], digits[16];
    size_t n = append(line, 0, sizeof line, "lurker: event=seccomp_denied syscall=");
    int nr = info->si_syscall;
    if (nr >= 0 && nr < SYSCALL_NAME_SLOTS && syscall_names[nr][0]) {
        n = append(line, n, sizeof line, syscall_names[nr]);
    } else {
        size_t d = sizeof digits;
        digits[--d] = '\0';
        unsigned v = (unsigned)nr;
        do
            digits[--d] = (char)('0' + v % 10);
        while ((v /= 10) != 0 && d > 0);
        n = append(line, n, sizeof line, digits + d);
    }
    n = append(line, n, sizeof line, " action=kill (a call outside this process's profile)\n");
    ssize_t ignored = write(STDERR_FILENO, line, n);
    (void)ignored;
    signal(sig, SIG_DFL);
    raise(sig); /* pending until the handler returns, then fatal */
}

static int install_denial_handler(char *err, size_t errlen)
{
    name_syscalls();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_denied_syscall;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0) {
        snprintf(err, errlen, "sigaction(SIGSYS): %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- building the filter ---- */

static int failed(int rc, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "seccomp: %s: %s", what, strerror(-rc));
    return -1;
}

static int allow_list(scmp_filter_ctx ctx, const int *list, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] < 0) /* a syscall this architecture does not have */
            continue;
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, list[i], 0);
        if (rc != 0) {
            char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, list[i]);
            snprintf(err, errlen, "seccomp: cannot allow %s: %s", name ? name : "?", strerror(-rc));
            free(name);
            return -1;
        }
    }
    return 0;
}

/* One rule: allow SYSCALL when argument ARG compares OP to DATUM (masked by MASK for SCMP_CMP_MASKED_EQ). */
static int allow_if(scmp_filter_ctx ctx, int syscall_nr, unsigned arg, enum scmp_compare op, scmp_datum_t a,
                    scmp_datum_t b)
{
    const struct scmp_arg_cmp cmp = {.arg = arg, .op = op, .datum_a = a, .datum_b = b};
    return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, syscall_nr, 1, &cmp);
}

static int allow_by_argument(scmp_filter_ctx ctx, bool threads, bool sanitizer, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof allowed_ioctls / sizeof allowed_ioctls[0]; i++)
        rc = allow_if(ctx, SCMP_SYS(ioctl), 1, SCMP_CMP_MASKED_EQ, 0xffffffffu, allowed_ioctls[i]);
    if (rc != 0)
        return failed(rc, "ioctl rule", err, errlen);
    /* no new executable memory: a compromised process cannot turn written bytes into code */
    rc = allow_if(ctx, SCMP_SYS(mprotect), 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
    if (rc != 0)
        return failed(rc, "mprotect rule", err, errlen);
    /* glibc tries clone3 first and falls back to clone on ENOSYS; clone3's flags sit in memory seccomp cannot read */
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc != 0)
        return failed(rc, "clone3 rule", err, errlen);
    if (sanitizer) /* clone, prctl, kill whole: LeakSanitizer's tracer is a separate task that stops the others */
        return allow_list(ctx, sanitizer_syscalls, sizeof sanitizer_syscalls / sizeof sanitizer_syscalls[0], err,
                          errlen);
    for (size_t i = 0; rc == 0 && i < sizeof allowed_prctls / sizeof allowed_prctls[0]; i++)
        rc = allow_if(ctx, SCMP_SYS(prctl), 0, SCMP_CMP_EQ, (scmp_datum_t)allowed_prctls[i], 0);
    if (rc != 0)
        return failed(rc, "prctl rule", err, errlen);
    /* kill: probing whether a pid exists (signal 0) anywhere, real signals to ourselves only */
    pid_t self = getpid();
    rc = allow_if(ctx, SCMP_SYS(kill), 1, SCMP_CMP_EQ, 0, 0);
    if (rc == 0)
        rc = allow_if(ctx, SCMP_SYS(kill), 0, SCMP_CMP_EQ, (scmp_datum_t)self, 0);
    if (rc == 0)
        rc = allow_if(ctx, SCMP_SYS(tgkill), 0, SCMP_CMP_EQ, (scmp_datum_t)self, 0);
    if (rc != 0)
        return failed(rc, "kill rule", err, errlen);
    if (threads)
        rc = allow_if(ctx, SCMP_SYS(clone), 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_NAMESPACES, CLONE_THREAD);
    return rc == 0 ? 0 : failed(rc, "clone rule", err, errlen);
}

/* New sockets: the families HTTP needs, and of netlink only NETLINK_ROUTE (getaddrinfo's address check). */
static int allow_http_sockets(scmp_filter_ctx ctx, char *err, size_t errlen)
{
    static const int families[] = {AF_INET, AF_INET6, AF_UNIX};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof families / sizeof families[0]; i++)
        rc = allow_if(ctx, SCMP_SYS(socket), 0, SCMP_CMP_EQ, (scmp_datum_t)families[i], 0);
    if (rc == 0) {
        const struct scmp_arg_cmp netlink_route[] = {
            {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_NETLINK, .datum_b = 0},
            {.arg = 2, .op = SCMP_CMP_EQ, .datum_a = NETLINK_ROUTE, .datum_b = 0},
        };
        rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, netlink_route);
    }
    return rc == 0 ? 0 : failed(rc, "socket rule", err, errlen);
}

static int add_profile(scmp_filter_ctx ctx, enum sandbox_profile profile, bool sanitizer, char *err, size_t errlen)
{
    if (allow_list(ctx, base_syscalls, sizeof base_syscalls / sizeof base_syscalls[0], err, errlen) != 0)
        return -1;
    bool threads = profile == SANDBOX_CAPTURER || profile == SANDBOX_SHIPPER; /* the writer; curl's resolver */
    if (allow_by_argument(ctx, threads, sanitizer, err, errlen) != 0)
        return -1;
    switch (profile) {
    case SANDBOX_SHIPPER:
        if (allow_list(ctx, shipper_syscalls, sizeof shipper_syscalls / sizeof shipper_syscalls[0], err, errlen))
            return -1;
        return allow_http_sockets(ctx, err, errlen);
    case SANDBOX_ANALYZER:
        return allow_list(ctx, analyzer_syscalls, sizeof analyzer_syscalls / sizeof analyzer_syscalls[0], err,
                          errlen);
    case SANDBOX_RESPONDER:
        return allow_list(ctx, responder_syscalls, sizeof responder_syscalls / sizeof responder_syscalls[0], err,
                          errlen);
    case SANDBOX_CAPTURER:
        return 0;
    }
    return 0;
}

int sandbox_apply_filter(enum sandbox_profile profile, bool sanitizer_allowances, char *err, size_t errlen)
{
    if (install_denial_handler(err, errlen) != 0)
        return -1;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx) {
        snprintf(err, errlen, "seccomp_init failed");
        return -1;
    }
    int rc = add_profile(ctx, profile, sanitizer_allowances, err, errlen);
    if (rc == 0) {
        rc = seccomp_load(ctx);
        if (rc != 0)
            snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
    }
    seccomp_release(ctx);
    return rc == 0 ? 0 : -1;
}

int sandbox_apply(enum sandbox_profile profile, char *err, size_t errlen)
{
    const char *skip = getenv("LURKER_NO_SECCOMP");
    if (skip && strcmp(skip, "1") == 0)
        return 0;
    return sandbox_apply_filter(profile, SANITIZER_ALLOWANCES, err, errlen);
}

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE /* ABI 3 (Linux 6.2); Debian 12's headers are 6.1's */
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* Every right that changes the file system, by the Landlock ABI that introduced it. */
static uint64_t write_rights(long abi)
{
    uint64_t r = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
                 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                 LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2)
        r |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        r |= LANDLOCK_ACCESS_FS_TRUNCATE;
    return r;
}

#define READ_RIGHTS (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FILE_RIGHTS                                                                                                  \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |                     \
     LANDLOCK_ACCESS_FS_TRUNCATE)

/* Grants RIGHTS beneath PATH (a directory), or the file rights among them on PATH itself (a file). */
static int add_path_rule(int ruleset, const char *path, uint64_t rights, char *err, size_t errlen)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        rights &= FILE_RIGHTS;
    struct landlock_path_beneath_attr beneath = {.allowed_access = rights, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0);
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "landlock_add_rule %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int sandbox_restrict_paths(const struct sandbox_paths *paths, char *err, size_t errlen)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        snprintf(err, errlen, "Landlock unavailable (%s): file system access not confined", strerror(errno));
        return 0;
    }
    uint64_t writes = write_rights(abi);
    uint64_t handled = writes | (paths->confine_reads ? READ_RIGHTS : 0);
    struct landlock_ruleset_attr attr = {.handled_access_fs = handled};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) {
        snprintf(err, errlen, "landlock_create_ruleset: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    /* a writable directory may hold anything and be read, but not be executed from */
    for (size_t i = 0; rc == 0 && i < paths->nwritable; i++)
        rc = add_path_rule(ruleset, paths->writable[i], handled & ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE, err, errlen);
    for (size_t i = 0; rc == 0 && paths->confine_reads && i < paths->nreadable; i++)
        rc = add_path_rule(ruleset, paths->readable[i], READ_RIGHTS, err, errlen);
    /* its own /proc entry (what LeakSanitizer and libc read about the process itself); /proc/self resolves now */
    if (rc == 0 && paths->confine_reads)
        rc = add_path_rule(ruleset, "/proc/self", READ_RIGHTS, err, errlen);
    if (rc == 0 && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)) {
        snprintf(err, errlen, "landlock_restrict_self: %s", strerror(errno));
        rc = -1;
    }
    close(ruleset);
    return rc == 0 ? 1 : -1;
}

int sandbox_restrict_writes(const char *const *dirs, size_t n, char *err, size_t errlen)
{
    const struct sandbox_paths paths = {.writable = dirs, .nwritable = n};
    return sandbox_restrict_paths(&paths, err, errlen);
}
