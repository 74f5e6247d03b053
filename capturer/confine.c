#include "confine.h"

#include "log.h"
#include "sandbox.h"

int capturer_confine(const char *spool_dir, char *err, size_t errlen)
{
    const char *writable[1] = {spool_dir};
    int rc = sandbox_restrict_writes(writable, 1, err, errlen);
    if (rc == 0)
        log_warn("event=landlock_unavailable reason=\"%s\"", err);
    if (rc < 0)
        return -1;
    return sandbox_apply(SANDBOX_CAPTURER, err, errlen);
}
