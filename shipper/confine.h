/* The shipper's confinement once privileges are dropped: Landlock lets it write only beneath WRITABLE (the spool,
 * the archive, the Prometheus file's directory) and read only those, its AWS shared credentials file, the CA
 * bundle, the resolver's files and the shared libraries libc and OpenSSL load at run time; seccomp allows only
 * the calls shipping needs (common/sandbox.h). Applies to the calling thread and every thread it creates later. */
#ifndef LURKER_SHIPPER_CONFINE_H
#define LURKER_SHIPPER_CONFINE_H

#include <stddef.h>

/* Returns 0, or -1 with a message in err. A kernel without Landlock is logged, not an error. */
int shipper_confine(const char *const *writable, size_t nwritable, char *err, size_t errlen);

#endif
