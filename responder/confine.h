/* The responder worker's policy (common/daemon.h): once its capture handle and raw socket are open it becomes the
 * configured user, reads and writes no file at all, and makes only the calls answering needs (SANDBOX_RESPONDER).
 * The supervising parent stays outside: it removes the firewall rules at exit. */
#ifndef LURKER_RESPONDER_CONFINE_H
#define LURKER_RESPONDER_CONFINE_H

#include "daemon.h"

struct daemon_policy responder_policy(const char *user);

#endif
