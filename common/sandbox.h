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

#endif
