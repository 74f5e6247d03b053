/* --follow's confinement: the analyzer parses every byte an attacker sent, so once the archive exists it may read
 * only the archive, write only its log's directory (a rotated log is created anew there), execute nothing, and make
 * only the calls analysing needs (common/sandbox.h, SANDBOX_ANALYZER: no socket, no process, no namespace). */
#ifndef ANALYZER_CONFINE_H
#define ANALYZER_CONFINE_H

#include <stddef.h>

/* log_path NULL: records go to stdout, nothing is writable. Returns 0, or -1 with a message in err. A kernel
 * without Landlock is reported on stderr, not an error. */
int follow_confine(const char *archive, const char *log_path, char *err, size_t errlen);

#endif
