/* The capturer's policy (common/daemon.h): once its capture handle is open it becomes the configured user, and then
 * the spool holds all it reads and writes (pcaps, the journal), nothing else, so a compromised capturer cannot read
 * a credentials file and send it out of its packet socket; its calls are capture's and writing's (SANDBOX_CAPTURER).
 * It applies to the thread that confines itself and every thread it creates afterwards: main() confines itself
 * before it replays the journal and before it starts the writer thread. */
#ifndef LURKER_CAPTURER_CONFINE_H
#define LURKER_CAPTURER_CONFINE_H

#include "daemon.h"

struct capturer_policy {
    const char *spool[1];
    struct daemon_policy daemon;
};

void capturer_policy(struct capturer_policy *p, const char *user, const char *spool_dir);

#endif
