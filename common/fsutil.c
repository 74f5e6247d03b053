#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    size_t n = strnlen(path, sizeof buf);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *slash = strchr(buf + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int dir_prepare(const char *path, const char *user, char *err, size_t errlen)
{
    struct stat st;
    if (path[0] == '\0') {
        snprintf(err, errlen, "empty directory path");
        return -1;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s is not a directory", path);
            return -1;
        }
        return 0;
    }
    if (mkdir_p(path, 0750) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (user && user[0] && geteuid() == 0)
        return chown_dir_to_user(path, user, err, errlen);
    return 0;
}

int chown_dir_to_user(const char *path, const char *user, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(user);
    int fd = pw ? open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (fd < 0 || fchown(fd, pw->pw_uid, pw->pw_gid) != 0) {
        snprintf(err, errlen, "%s: cannot hand it to user '%s'%s", path, user,
                 pw == NULL ? " (no such user)" : errno == ELOOP || errno == ENOTDIR ? " (not a directory)" : "");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int create_exclusive(const char *path, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST && unlink(path) == 0)
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    return fd;
}
