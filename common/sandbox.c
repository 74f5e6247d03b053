#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What every lurker process does: memory, files in its own directories, time, signals, futexes, logging. */
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
    SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(brk),
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday),
    SCMP_SYS(time), SCMP_SYS(clock_getres),
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(restart_syscall), SCMP_SYS(alarm), SCMP_SYS(setitimer),
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(epoll_create1),
    SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(eventfd2),
    SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime), SCMP_SYS(inotify_init1), SCMP_SYS(inotify_add_watch),
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
    SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid), SCMP_SYS(getgroups),
    SCMP_SYS(kill), SCMP_SYS(tgkill), SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(getrandom),
    SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(getrusage), SCMP_SYS(sysinfo),
    SCMP_SYS(uname), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(prctl), SCMP_SYS(arch_prctl),
    SCMP_SYS(set_tid_address), SCMP_SYS(membarrier), SCMP_SYS(ioctl),
    /* sockets already open (pcap, raw) and the loopback-free local ones libc uses for syslog/nscd lookups */
    SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(recvmmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg),
    SCMP_SYS(sendmmsg), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(getsockname),
    SCMP_SYS(getpeername), SCMP_SYS(shutdown),
};

/* The shipper speaks HTTP(S): new TCP/UDP sockets (DNS), connect, and threads for curl's resolver. */
static const int shipper_syscalls[] = {
    SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(socketpair), SCMP_SYS(clone), SCMP_SYS(clone3),
    SCMP_SYS(mincore),
};

/* LeakSanitizer stops the world at exit with a cloned tracer thread: sanitizer builds (tests only) allow that. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifdef SANITIZER_BUILD
static const int sanitizer_syscalls[] = {SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(ptrace), SCMP_SYS(wait4),
                                         SCMP_SYS(waitid)};
#endif

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

int sandbox_apply(enum sandbox_profile profile, char *err, size_t errlen)
{
    const char *skip = getenv("LURKER_NO_SECCOMP");
    if (skip && strcmp(skip, "1") == 0)
        return 0;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        snprintf(err, errlen, "seccomp_init failed");
        return -1;
    }
    int rc = allow_list(ctx, base_syscalls, sizeof base_syscalls / sizeof base_syscalls[0], err, errlen);
#ifdef SANITIZER_BUILD
    if (rc == 0)
        rc = allow_list(ctx, sanitizer_syscalls, sizeof sanitizer_syscalls / sizeof sanitizer_syscalls[0], err, errlen);
#endif
    if (rc == 0 && profile == SANDBOX_SHIPPER) {
        rc = allow_list(ctx, shipper_syscalls, sizeof shipper_syscalls / sizeof shipper_syscalls[0], err, errlen);
        /* new sockets: only the families HTTP needs */
        static const int families[] = {AF_INET, AF_INET6, AF_UNIX, AF_NETLINK};
        for (size_t i = 0; rc == 0 && i < sizeof families / sizeof families[0]; i++) {
            const struct scmp_arg_cmp family_is = {
                .arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)families[i], .datum_b = 0};
            rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, &family_is);
        }
        if (rc < 0)
            snprintf(err, errlen, "seccomp: socket rule: %s", strerror(-rc));
    }
    if (rc == 0) {
        rc = seccomp_load(ctx);
        if (rc != 0)
            snprintf(err, errlen, "seccomp_load: %s", strerror(-rc));
    }
    seccomp_release(ctx);
    return rc == 0 ? 0 : -1;
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

int sandbox_restrict_writes(const char *const *dirs, size_t n, char *err, size_t errlen)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        snprintf(err, errlen, "Landlock unavailable (%s): writable paths not confined", strerror(errno));
        return 0;
    }
    uint64_t rights = write_rights(abi);
    struct landlock_ruleset_attr attr = {.handled_access_fs = rights};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0) {
        snprintf(err, errlen, "landlock_create_ruleset: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int fd = open(dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, errlen, "%s: %s", dirs[i], strerror(errno));
            close(ruleset);
            return -1;
        }
        /* a directory may hold anything but be executed from */
        struct landlock_path_beneath_attr beneath = {.allowed_access = rights & ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE,
                                                     .parent_fd = fd};
        long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0);
        close(fd);
        if (rc != 0) {
            snprintf(err, errlen, "landlock_add_rule %s: %s", dirs[i], strerror(errno));
            close(ruleset);
            return -1;
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
        snprintf(err, errlen, "landlock_restrict_self: %s", strerror(errno));
        close(ruleset);
        return -1;
    }
    close(ruleset);
    return 1;
}
