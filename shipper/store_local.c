/* Local archive backend. See store_local.h. */
#include "store_local.h"

#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum s3_outcome classify_errno(int e)
{
    return e == EACCES || e == EPERM || e == ENOTDIR || e == EROFS || e == ENAMETOOLONG || e == EEXIST
               ? S3_PERMANENT
               : S3_TRANSIENT;
}

/* mkdir -p for every directory of path below archive_dir (archive_dir itself included). */
static int make_parents(char *path, size_t base_len)
{
    for (char *p = path + base_len; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0750);
        int e = errno;
        *p = '/';
        if (rc != 0 && e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    return 0;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

enum s3_outcome store_local_put(const char *archive_dir, const char *key, const uint8_t *data, size_t len, char *err,
                                size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    int n = snprintf(path, sizeof path, "%s/%s", archive_dir, key);
    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(err, errlen, "archive path too long");
        return S3_PERMANENT;
    }
    if (mkdir_p(archive_dir, 0750) != 0) {
        snprintf(err, errlen, "archive_dir %s: %s", archive_dir, strerror(errno));
        return classify_errno(errno);
    }
    if (make_parents(path, strlen(archive_dir) + 1) < 0) {
        snprintf(err, errlen, "creating directories for %s: %s", path, strerror(errno));
        return classify_errno(errno);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = create_exclusive(tmp, 0640); /* never through a link planted under the predictable name */
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return classify_errno(errno);
    }
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        snprintf(err, errlen, "writing %s: %s", tmp, strerror(e));
        return classify_errno(e);
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        snprintf(err, errlen, "rename to %s: %s", path, strerror(e));
        return classify_errno(e);
    }
    /* the rename is durable only once its directory is */
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return S3_OK;
}
