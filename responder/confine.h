/* The responder worker's confinement once its handles are open and privileges dropped: Landlock lets it read and
 * write no file at all (its capture handle and raw socket are open already), seccomp allows only the calls answering
 * needs (common/sandbox.h). The supervising parent stays outside: it removes the firewall rules at exit. */
#ifndef LURKER_RESPONDER_CONFINE_H
#define LURKER_RESPONDER_CONFINE_H

#include <stddef.h>

/* Returns 0, or -1 with a message in err. A kernel without Landlock is logged, not an error. */
int responder_confine(char *err, size_t errlen);

#endif
