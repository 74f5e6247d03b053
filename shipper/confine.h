/* The shipper's policy (common/daemon.h): it becomes the configured user when started as root; then it may write
 * only beneath the spool, the archive and the Prometheus file's directory, and read only those, its AWS shared
 * credentials file, the CA bundle, the resolver's files and the shared libraries libc and OpenSSL load at run time,
 * with the calls shipping needs (SANDBOX_SHIPPER). */
#ifndef LURKER_SHIPPER_CONFINE_H
#define LURKER_SHIPPER_CONFINE_H

#include <stddef.h>

#include "config.h"
#include "daemon.h"

#define SHIPPER_READS_MAX 16

struct shipper_policy {
    char prometheus_dir[CONFIG_PATH_MAX];
    char credentials[512];
    const char *writable[3];
    const char *readable[SHIPPER_READS_MAX];
    struct daemon_policy daemon;
};

/* Fills P from CFG and makes the writable directories (as root: for the user), since a Landlock rule names an
 * existing directory. Returns 0, or -1 with a message in err (a directory that cannot be made). */
int shipper_policy(struct shipper_policy *p, const struct lurker_config *cfg, char *err, size_t errlen);

#endif
