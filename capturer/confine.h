/* The capturer's confinement once its handles are open and privileges dropped: Landlock lets it read and write only
 * beneath the spool (pcaps and the journal), seccomp allows only the calls capture and writing need (common/sandbox.h).
 * Both apply to the calling thread and every thread it creates afterwards: main() confines itself before it
 * replays the journal and before it starts the writer thread. */
#ifndef LURKER_CAPTURER_CONFINE_H
#define LURKER_CAPTURER_CONFINE_H

#include <stddef.h>

/* Returns 0, or -1 with a message in err. A kernel without Landlock is logged, not an error. */
int capturer_confine(const char *spool_dir, char *err, size_t errlen);

#endif
