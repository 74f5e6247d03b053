/* seccomp allowlists, one profile per process, applied after privdrop() (PR_SET_NO_NEW_PRIVS is already set).
 * A call outside the profile kills the process (SIGSYS), after one line on stderr naming the call
 * (`lurker: event=seccomp_denied syscall=NAME`): a compromised process gets no second try, and a library that
 * needs one more call after an upgrade shows up as that line and a restart, not as a silent EPERM.
 * What is never on a list: execve/execveat, ptrace, process_vm_*, mount, chroot, setuid/setgid family, module and
 * kexec calls, bpf, perf_event_open, unshare/setns. Allowed by argument only: clone (threads, never a namespace
 * or a process; capturer and shipper only), clone3 (answered ENOSYS, so libc falls back to the filtered clone),
 * ioctl (terminal queries, FIONREAD/FIONBIO/FIOCLEX), prctl (reading state, thread names), kill (signal 0
 * anywhere, anything to ourselves), mprotect (never PROT_EXEC), socket (shipper: INET, INET6, UNIX, and of
 * netlink NETLINK_ROUTE alone). The responder's and capturer's profiles open no socket at all.
 * A profile belongs to one process: a call one process needs (the responder's root parent, if it ever needs
 * bpf) goes into that process's profile, not the base list. */
#ifndef LURKER_SANDBOX_H
#define LURKER_SANDBOX_H

#include <stddef.h>

#include <stdbool.h>

enum sandbox_profile { SANDBOX_RESPONDER, SANDBOX_CAPTURER, SANDBOX_SHIPPER, SANDBOX_ANALYZER };

/* Returns 0, or -1 with a message in err. LURKER_NO_SECCOMP=1 in the environment skips it (debugging only;
 * logged by the caller). Sanitizer builds add what LeakSanitizer needs at exit (clone, ptrace, prctl). */
int sandbox_apply(enum sandbox_profile profile, char *err, size_t errlen);
/* The filter itself; SANITIZER_ALLOWANCES false is the production filter whatever the build (tests use it, so a
 * sanitizer build still tests what production runs). */
int sandbox_apply_filter(enum sandbox_profile profile, bool sanitizer_allowances, char *err, size_t errlen);

/* Landlock: what a process may do with files from now on. Executing is never allowed. Beneath a writable
 * directory: create, write, rename, remove and read. With confine_reads, reading is allowed only beneath the
 * writable and readable paths (a readable path may be a file) and the process's own /proc entry; without it,
 * reading stays allowed everywhere. Call after privdrop() and before sandbox_apply(). Returns 1 when enforced, 0
 * when the kernel has no Landlock (err says so: log it), -1 on error (a path that does not exist included). */
struct sandbox_paths {
    const char *const *writable;
    size_t nwritable;
    const char *const *readable;
    size_t nreadable;
    bool confine_reads;
};
int sandbox_restrict_paths(const struct sandbox_paths *paths, char *err, size_t errlen);
/* Writes confined to DIRS (none with n == 0), reads not confined. */
int sandbox_restrict_writes(const char *const *dirs, size_t n, char *err, size_t errlen);

#endif
