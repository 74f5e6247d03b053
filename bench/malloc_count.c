/* LD_PRELOAD shim for bench/capturer_bench.py: counts malloc, calloc, realloc and free calls, those of the process's
 * first thread (the capture loop) apart from the other threads' (the writer), into the file MALLOC_COUNT_FILE names
 * (8 native uint64: main malloc, calloc, realloc, free, then the same for other threads). The file is mapped shared
 * at load, so the counts are read while the process runs and counting costs no syscall (the capturer's seccomp
 * filter stays untouched). Calls glibc makes internally (e.g. strdup's malloc) do not go through the PLT and are
 * not counted; every call lurker's own code makes is.
 * Build: cc -O2 -shared -fPIC -o malloc_count.so bench/malloc_count.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

enum { MALLOC, CALLOC, REALLOC, FREE, KINDS };

static uint64_t unmapped[2 * KINDS];
static uint64_t *counts = unmapped;
static __thread int other_thread = 1; /* every new thread starts as "other"; the constructor marks the first */

__attribute__((constructor)) static void malloc_count_init(void)
{
    other_thread = 0;
    const char *path = getenv("MALLOC_COUNT_FILE");
    int fd = path ? open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    if (fd < 0 || ftruncate(fd, sizeof unmapped) != 0)
        return;
    void *m = mmap(NULL, sizeof unmapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m != MAP_FAILED)
        counts = m;
}

static void count(int kind)
{
    __atomic_fetch_add(&counts[other_thread * KINDS + kind], 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n)
{
    count(MALLOC);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    count(CALLOC);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    count(REALLOC);
    return __libc_realloc(p, n);
}

void free(void *p)
{
    if (p)
        count(FREE);
    __libc_free(p);
}
