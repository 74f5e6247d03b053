#include "mapped_file.h"

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

volatile sig_atomic_t mapped_file_shrank;
static uint8_t *volatile mapped_at;
static volatile size_t mapped_len;

/* A fault inside the mapping: zeros from the faulting page to the end, and the read is retried on them. Any other
 * SIGBUS is a real fault: the default action, on the retried access. */
static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)context;
    uint8_t *at = info->si_addr, *start = mapped_at;
    if (start && at >= start && at < start + mapped_len) {
        uintptr_t page = (uintptr_t)at & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
        size_t rest = (size_t)(start + mapped_len - (uint8_t *)page);
        if (mmap((void *)page, rest, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
            mapped_file_shrank = 1;
            return;
        }
    }
    signal(sig, SIG_DFL);
}

const uint8_t *mapped_file_open(int fd, size_t len)
{
    static bool guarded;
    if (!guarded) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, NULL) != 0)
            return NULL;
        guarded = true;
    }
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, len, MADV_SEQUENTIAL);
    mapped_file_shrank = 0;
    mapped_len = len;
    mapped_at = p;
    return p;
}

void mapped_file_close(const uint8_t *data, size_t len)
{
    mapped_at = NULL;
    mapped_file_shrank = 0;
    munmap((void *)data, len);
}
