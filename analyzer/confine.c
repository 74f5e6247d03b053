#include "confine.h"

#include <stdio.h>
#include <string.h>

int follow_policy(struct follow_policy *p, const char *archive, const char *log_path, char *err, size_t errlen)
{
    p->readable[0] = archive;
    p->daemon = (struct daemon_policy){
        .files = {.readable = p->readable, .nreadable = 1, .confine_reads = true},
        .calls = SANDBOX_ANALYZER,
    };
    if (!log_path)
        return 0;
    int n = snprintf(p->log_dir, sizeof p->log_dir, "%s", log_path);
    if (n < 0 || (size_t)n >= sizeof p->log_dir) {
        snprintf(err, errlen, "%s: path too long", log_path);
        return -1;
    }
    char *slash = strrchr(p->log_dir, '/');
    if (!slash)
        snprintf(p->log_dir, sizeof p->log_dir, ".");
    else if (slash == p->log_dir)
        p->log_dir[1] = '\0';
    else
        *slash = '\0';
    p->writable[0] = p->log_dir;
    p->daemon.files.writable = p->writable;
    p->daemon.files.nwritable = 1;
    return 0;
}
