#include "confine.h"

void capturer_policy(struct capturer_policy *p, const char *user, const char *spool_dir)
{
    p->spool[0] = spool_dir;
    p->daemon = (struct daemon_policy){
        .user = user,
        .files = {.writable = p->spool, .nwritable = 1, .confine_reads = true},
        .calls = SANDBOX_CAPTURER,
    };
}
