/* Removing the firewall rules at stop needs CAP_NET_ADMIN, which the answering process must not keep. So the
 * responder forks once its handles are open and its rules installed: the child drops every privilege and answers
 * SYNs; the parent stays root, does nothing but wait for the child (forwarding SIGTERM/SIGINT/SIGHUP to it), and
 * removes the rules when the child exits, whatever the reason (clean stop, crash, kill -9 of the child). The parent
 * holds no handle an attacker's bytes reach and reads nothing from the child: its attack surface is waitpid().
 * If the parent itself is killed with SIGKILL, the child follows (PR_SET_PDEATHSIG) and the next start replaces the
 * stale table atomically. */
#ifndef LURKER_RESPONDER_SUPERVISOR_H
#define LURKER_RESPONDER_SUPERVISOR_H

#include <sys/types.h>

/* Forks. In the child, returns 0 (the caller goes on to drop privileges; call supervisor_child_bind() after that).
 * In the parent, runs release(arg) at once (close what only the child needs), waits for the child, runs
 * cleanup(arg) and exits with the child's status. Returns -1 if fork fails. */
int supervisor_fork(void (*release)(void *arg), void (*cleanup)(void *arg), void *arg);

/* In the child, after the privilege drop (which clears the parent-death signal): exit if the parent dies. */
void supervisor_child_bind(void);

#endif
