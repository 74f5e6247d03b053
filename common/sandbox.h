/* seccomp allowlists for the sensor processes, applied after privdrop() (PR_SET_NO_NEW_PRIVS is already set).
 * Anything not listed fails with EPERM rather than killing the process: a library that needs one more syscall
 * after an upgrade shows up as a logged error, not as a crash loop. What is never on a list: execve/execveat,
 * ptrace, process_vm_*, mount, chroot, setuid/setgid family, module and kexec calls, bpf, perf_event_open,
 * and (for the shipper, which talks HTTP only) raw and packet sockets. */
#ifndef LURKER_SANDBOX_H
#define LURKER_SANDBOX_H

#include <stddef.h>

enum sandbox_profile { SANDBOX_RESPONDER, SANDBOX_CAPTURER, SANDBOX_SHIPPER };

/* Returns 0, or -1 with a message in err. LURKER_NO_SECCOMP=1 in the environment skips it (debugging only;
 * logged by the caller). */
int sandbox_apply(enum sandbox_profile profile, char *err, size_t errlen);

/* Landlock: from now on this process may create, write, rename or remove files only beneath the given directories
 * (none at all with n == 0), and execute nothing; reading stays allowed. Call after privdrop() and before
 * sandbox_apply(). Returns 1 when enforced, 0 when the kernel has no Landlock (err says so: log it), -1 on error. */
int sandbox_restrict_writes(const char *const *dirs, size_t n, char *err, size_t errlen);

#endif
