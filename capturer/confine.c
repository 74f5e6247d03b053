#include "confine.h"

#include "log.h"
#include "sandbox.h"

int capturer_confine(const char *spool_dir, char *err, size_t errlen)
{
    /* the spool holds all it reads and writes (pcaps, the journal); nothing else, so a compromised capturer cannot
     * read a credentials file and send it out of its packet socket */
    const char *writable[1] = {spool_dir};
    const struct sandbox_paths paths = {.writable = writable, .nwritable = 1, .confine_reads = true};
    int rc = sandbox_restrict_paths(&paths, err, errlen);
    if (rc == 0)
        log_warn("event=landlock_unavailable reason=\"%s\"", err);
    if (rc < 0)
        return -1;
    return sandbox_apply(SANDBOX_CAPTURER, err, errlen);
}
