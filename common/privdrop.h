/* Dropping root after the privileged handles are open: the first step of daemon_confine (daemon.h).
 * Order as in OpenBSD's daemons: setgroups, setresgid, setresuid, each checked; then no capabilities remain
 * (a non-root uid with PR_SET_KEEPCAPS off loses them all) and PR_SET_NO_NEW_PRIVS is set.
 * An empty user name keeps the current identity (tests, or an operator who runs lurker unprivileged already). */
#ifndef LURKER_PRIVDROP_H
#define LURKER_PRIVDROP_H

#include <stddef.h>

/* Returns 0, or -1 with a message in err. */
int privdrop(const char *user, char *err, size_t errlen);

#endif
