/* Spool directory access for the shipper. See spooldir.h. */
#include "spooldir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

int spooldir_open(struct spooldir *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->dirfd = s->failedfd = -1;
    snprintf(s->path, sizeof s->path, "%s", path);
    s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        snprintf(err, errlen, "spool directory %s: %s", path, strerror(errno));
        return -1;
    }
    if (mkdirat(s->dirfd, SPOOL_FAILED_DIR, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s/%s: %s", path, SPOOL_FAILED_DIR, strerror(errno));
        spooldir_close(s);
        return -1;
    }
    s->failedfd = openat(s->dirfd, SPOOL_FAILED_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (s->failedfd < 0) {
        snprintf(err, errlen, "%s/%s: %s", path, SPOOL_FAILED_DIR, strerror(errno));
        spooldir_close(s);
        return -1;
    }
    return 0;
}

void spooldir_close(struct spooldir *s)
{
    if (s->dirfd >= 0)
        close(s->dirfd);
    if (s->failedfd >= 0)
        close(s->failedfd);
    s->dirfd = s->failedfd = -1;
}

bool spooldir_name_ok(const char *name)
{
    size_t n = strnlen(name, QUEUE_NAME_MAX);
    return n > 5 && n < QUEUE_NAME_MAX && name[0] != '.' && !strchr(name, '/') && strcmp(name + n - 5, ".pcap") == 0;
}

static int fd_of(struct spooldir *s, bool parked)
{
    return parked ? s->failedfd : s->dirfd;
}

size_t spooldir_scan(struct spooldir *s, bool parked, void (*fn)(const char *name, int64_t mtime, void *arg),
                     void *arg)
{
    int fd = dup(fd_of(s, parked));
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    rewinddir(d); /* a dup shares the directory offset with earlier scans: start from the top */
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!spooldir_name_ok(e->d_name))
            continue;
        struct stat st;
        if (fstatat(fd_of(s, parked), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        fn(e->d_name, (int64_t)st.st_mtime, arg);
        n++;
    }
    closedir(d);
    return n;
}

int spooldir_read(struct spooldir *s, const char *name, bool parked, uint8_t **data, size_t *len, int64_t *mtime)
{
    *data = NULL;
    *len = 0;
    if (!spooldir_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    int fd = openat(fd_of(s, parked), name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)st.st_size > SPOOL_FILE_MAX) {
        close(fd);
        errno = EFBIG;
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    int e = errno;
    close(fd);
    if (got != size) {
        free(buf);
        errno = e ? e : EIO;
        return -1;
    }
    *data = buf;
    *len = size;
    if (mtime)
        *mtime = (int64_t)st.st_mtime;
    return 0;
}

bool spooldir_exists(struct spooldir *s, const char *name, bool parked)
{
    struct stat st;
    return spooldir_name_ok(name) && fstatat(fd_of(s, parked), name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
}

int spooldir_remove(struct spooldir *s, const char *name, bool parked)
{
    if (!spooldir_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    if (unlinkat(fd_of(s, parked), name, 0) != 0 && errno != ENOENT)
        return -1;
    return 0;
}

int spooldir_park(struct spooldir *s, const char *name)
{
    if (!spooldir_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    if (renameat(s->dirfd, name, s->failedfd, name) != 0)
        return -1;
    fsync(s->failedfd);
    fsync(s->dirfd);
    return 0;
}
