#include "inputs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapped_file.h"

#define DIRECTORY_MAX_DEPTH 32

int input_read_stream(int fd, size_t max_bytes, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    size_t cap = 1 << 16, n = 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        /* a regular file: one buffer of its size (+1 to see that it did not grow), no copies while growing */
        if ((uint64_t)st.st_size > max_bytes) {
            snprintf(err, errlen, "larger than the limit of %zu bytes", max_bytes);
            return -1;
        }
        cap = (size_t)st.st_size + 1;
    }
    uint8_t *buf = malloc(cap);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes + 1) {
                free(buf);
                snprintf(err, errlen, "larger than the limit of %zu bytes", max_bytes);
                return -1;
            }
            size_t ncap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            free(buf);
            snprintf(err, errlen, "read: %s", strerror(errno));
            return -1;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    if (n > max_bytes) {
        free(buf);
        snprintf(err, errlen, "larger than the limit of %zu bytes", max_bytes);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Files from this size on are mapped (mapped_file.h); smaller ones are read into one buffer reused from file to file:
 * for a file of a few KB (one flow), mapping it costs more system time than copying it. */
#define INPUT_MAP_FROM (1u << 20)

static int hand_mapped(int fd, const char *path, size_t len, pcap_fn fn, void *arg)
{
    const char *shown = path ? path : "-";
    const uint8_t *data = mapped_file_open(fd, len);
    if (!data) {
        fprintf(stderr, "lurker-analyzer: %s: mmap: %s\n", shown, strerror(errno));
        return 1;
    }
    int rc = fn(path, data, len, arg);
    bool shrank = mapped_file_shrank;
    mapped_file_close(data, len);
    if (shrank) {
        fprintf(stderr, "lurker-analyzer: %s: truncated while it was read (its records say so)\n", shown);
        return 1;
    }
    return rc ? 1 : 0;
}

/* Up to len bytes (the size fstat gave; a file that shrank meanwhile reads short and its pcap is then truncated). */
static int hand_small(int fd, const char *path, size_t len, pcap_fn fn, void *arg)
{
    static uint8_t buffer[INPUT_MAP_FROM];
    size_t got = 0;
    while (got < len) {
        ssize_t k = read(fd, buffer + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            fprintf(stderr, "lurker-analyzer: %s: read: %s\n", path ? path : "-", strerror(errno));
            return 1;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return fn(path, buffer, got, arg) ? 1 : 0;
}

/* A regular file is mapped or read into a reused buffer, anything else (stdin, an empty file) read whole. */
static int read_and_hand(int fd, const char *path, size_t max_bytes, pcap_fn fn, void *arg)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= max_bytes)
        return (size_t)st.st_size >= INPUT_MAP_FROM ? hand_mapped(fd, path, (size_t)st.st_size, fn, arg)
                                                    : hand_small(fd, path, (size_t)st.st_size, fn, arg);
    char err[160];
    uint8_t *data;
    size_t len;
    if (input_read_stream(fd, max_bytes, &data, &len, err, sizeof err) != 0) {
        fprintf(stderr, "lurker-analyzer: %s: %s\n", path ? path : "-", err);
        return 1;
    }
    int rc = fn(path, data, len, arg);
    free(data);
    return rc ? 1 : 0;
}

static int input_file(const char *path, size_t max_bytes, pcap_fn fn, void *arg)
{
    if (strcmp(path, "-") == 0)
        return read_and_hand(STDIN_FILENO, NULL, max_bytes, fn, arg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "lurker-analyzer: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = read_and_hand(fd, path, max_bytes, fn, arg);
    close(fd);
    return rc;
}

int input_file_nofollow(const char *path, size_t max_bytes, input_seen_fn seen, void *seen_arg, pcap_fn fn,
                        void *arg)
{
    /* O_NONBLOCK: a FIFO planted under the name must not block the open */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno != ENOENT) /* gone meanwhile (a .tmp renamed away) is not worth a line */
            fprintf(stderr, "lurker-analyzer: %s: %s\n", path, errno == ELOOP ? "a symbolic link: not followed" :
                                                                                strerror(errno));
        return errno == ENOENT ? 0 : 1;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = 0; /* not a regular file: nothing to analyse */
    else if (seen && seen(seen_arg, &st))
        rc = 0;
    else if (fcntl(fd, F_SETFL, 0) != 0)
        rc = 1;
    else
        rc = read_and_hand(fd, path, max_bytes, fn, arg);
    close(fd);
    return rc;
}

static int has_pcap_suffix(const char *name)
{
    static const char *suffixes[] = { ".pcap", ".pcapng", ".cap" };
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0)
            return 1;
    }
    return 0;
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int input_directory(const char *path, size_t max_bytes, pcap_fn fn, void *arg, int depth)
{
    if (depth > DIRECTORY_MAX_DEPTH) {
        fprintf(stderr, "lurker-analyzer: %s: directories nested too deeply\n", path);
        return 1;
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, compare_names);
    if (n < 0) {
        fprintf(stderr, "lurker-analyzer: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char child[4096];
        int k = snprintf(child, sizeof child, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", name);
        struct stat st;
        if (name[0] == '.' || k < 0 || (size_t)k >= sizeof child || lstat(child, &st) != 0) {
            free(names[i]);
            continue;
        }
        if (S_ISDIR(st.st_mode))
            failed += input_directory(child, max_bytes, fn, arg, depth + 1);
        else if (S_ISREG(st.st_mode) && has_pcap_suffix(name))
            failed += input_file_nofollow(child, max_bytes, NULL, NULL, fn, arg); /* lstat said regular: keep it so */
        free(names[i]);
    }
    free(names);
    return failed;
}

int input_local(const char *path, size_t max_bytes, pcap_fn fn, void *arg)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return input_directory(path, max_bytes, fn, arg, 0);
    return input_file(path, max_bytes, fn, arg);
}

static int is_year(const char *s, size_t n)
{
    return n == 4 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
           isdigit((unsigned char)s[3]);
}

static int sensor_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

static void copy_sensor(char *out, size_t outlen, const char *s, size_t n)
{
    if (n == 0 || n >= outlen || n > 63)
        return;
    for (size_t i = 0; i < n; i++)
        if (!sensor_char(s[i]))
            return;
    memcpy(out, s, n);
    out[n] = '\0';
}

void sensor_from_path(const char *path, bool is_s3_key, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *comp[64];
    size_t len[64], n = 0;
    for (const char *p = path; *p && n < 64;) {
        const char *slash = strchr(p, '/');
        size_t k = slash ? (size_t)(slash - p) : strlen(p);
        comp[n] = p;
        len[n++] = k;
        p += k + (slash ? 1 : 0);
    }
    for (size_t i = 0; i < n; i++)
        if (len[i] > 7 && memcmp(comp[i], "sensor=", 7) == 0) {
            copy_sensor(out, outlen, comp[i] + 7, len[i] - 7);
            return;
        }
    for (size_t i = 1; is_s3_key && i + 1 < n; i++)
        if (len[i] == 4 && memcmp(comp[i], "pcap", 4) == 0 && is_year(comp[i + 1], len[i + 1])) {
            copy_sensor(out, outlen, comp[i - 1], len[i - 1]);
            return;
        }
}
