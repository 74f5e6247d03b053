#include "batchname.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int batchname_format(uint64_t opened_us, unsigned long pid, uint64_t n, char *out, size_t outlen)
{
    int len = snprintf(out, outlen, "%llu_batch_%lu-%llu.pcap", (unsigned long long)opened_us, pid,
                       (unsigned long long)n);
    return len > 0 && (size_t)len < outlen ? 0 : -1;
}

/* Digits from s, at least one, at most max; returns how many. */
static size_t digits(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && isdigit((unsigned char)s[n]))
        n++;
    return n >= 1 && n <= max ? n : 0;
}

bool batchname_parse(const char *name, uint64_t *opened_us, char seq[BATCHNAME_SEQ_MAX])
{
    size_t ts = digits(name, 19);
    if (ts == 0 || strncmp(name + ts, "_batch_", 7) != 0)
        return false;
    const char *s = name + ts + 7;
    size_t pid = digits(s, 10);
    if (pid == 0 || s[pid] != '-')
        return false;
    size_t n = digits(s + pid + 1, 19);
    if (n == 0 || strcmp(s + pid + 1 + n, ".pcap") != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < ts; i++) {
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *opened_us = v;
    snprintf(seq, BATCHNAME_SEQ_MAX, "%.*s", (int)(pid + 1 + n), s);
    return true;
}
