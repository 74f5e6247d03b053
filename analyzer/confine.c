#include "confine.h"

#include <stdio.h>
#include <string.h>

#include "sandbox.h"

int follow_confine(const char *archive, const char *log_path, char *err, size_t errlen)
{
    char log_dir[4096];
    const char *writable[1] = {log_dir};
    const char *readable[1] = {archive};
    struct sandbox_paths paths = {.readable = readable, .nreadable = 1, .confine_reads = true};
    if (log_path) {
        int n = snprintf(log_dir, sizeof log_dir, "%s", log_path);
        if (n < 0 || (size_t)n >= sizeof log_dir) {
            snprintf(err, errlen, "%s: path too long", log_path);
            return -1;
        }
        char *slash = strrchr(log_dir, '/');
        if (!slash)
            snprintf(log_dir, sizeof log_dir, ".");
        else if (slash == log_dir)
            log_dir[1] = '\0';
        else
            *slash = '\0';
        paths.writable = writable;
        paths.nwritable = 1;
    }
    int rc = sandbox_restrict_paths(&paths, err, errlen);
    if (rc == 0)
        fprintf(stderr, "lurker-analyzer: %s\n", err);
    if (rc < 0)
        return -1;
    return sandbox_apply(SANDBOX_ANALYZER, err, errlen);
}
