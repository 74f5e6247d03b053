#include "confine.h"

#include "log.h"
#include "sandbox.h"

int responder_confine(char *err, size_t errlen)
{
    const struct sandbox_paths nothing = {.confine_reads = true};
    int rc = sandbox_restrict_paths(&nothing, err, errlen);
    if (rc == 0)
        log_warn("event=landlock_unavailable reason=\"%s\"", err);
    if (rc < 0)
        return -1;
    return sandbox_apply(SANDBOX_RESPONDER, err, errlen);
}
