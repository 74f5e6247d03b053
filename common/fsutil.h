/* Directories a sensor process writes in, made ready before it drops root. */
#ifndef LURKER_FSUTIL_H
#define LURKER_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: missing parents 0755, the directory itself `mode`. 0, or -1 with errno. */
int mkdir_p(const char *path, mode_t mode);

/* Makes sure `path` exists: missing parents 0755 (root's), the directory 0750 and, when this call created it and
 * `user` is not empty, owned by that user. An existing directory is the operator's and is left as it is.
 * Returns 0, or -1 with a message in err. */
int dir_prepare(const char *path, const char *user, char *err, size_t errlen);

/* Hands the directory PATH to USER without following a symbolic link: opened O_NOFOLLOW|O_DIRECTORY, then
 * fchown on that descriptor (chown(2) would follow a link planted under the name). 0, or -1 with a message. */
int chown_dir_to_user(const char *path, const char *user, char *err, size_t errlen);

/* Creates PATH for writing, never through a symbolic link and never reusing a file: O_CREAT|O_EXCL|O_NOFOLLOW.
 * A leftover of a killed earlier writer (same name) is removed first (unlink removes a link, not its target).
 * Returns the descriptor, or -1 with errno. */
int create_exclusive(const char *path, mode_t mode);

#endif
