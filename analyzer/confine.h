/* --follow's policy (common/daemon.h): the analyzer parses every byte an attacker sent, so once the archive exists it
 * may read only the archive, write only its log's directory (a rotated log is created anew there), execute nothing,
 * and make only the calls analysing needs (SANDBOX_ANALYZER: no socket, no process, no namespace). It keeps the
 * identity it was started with (supervisord's user=). */
#ifndef ANALYZER_CONFINE_H
#define ANALYZER_CONFINE_H

#include <stddef.h>

#include "daemon.h"

struct follow_policy {
    char log_dir[4096];
    const char *writable[1], *readable[1];
    struct daemon_policy daemon;
};

/* log_path NULL: records go to stdout, nothing is writable. Returns 0, or -1 with a message in err. */
int follow_policy(struct follow_policy *p, const char *archive, const char *log_path, char *err, size_t errlen);

#endif
