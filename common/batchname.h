/* The name of a batch pcap (capturer/spool_batch.h) in the spool: <opened_us>_batch_<pid>-<n>.pcap, opened_us the
 * unix time in microseconds at which the batch was opened, pid and n the writing process and its batch counter.
 * The shipper reads it back (untrusted: the spool is a directory a local user may write to) for the batch key. */
#ifndef LURKER_COMMON_BATCHNAME_H
#define LURKER_COMMON_BATCHNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BATCHNAME_SEQ_MAX 32

/* 0, or -1 when out is too small. */
int batchname_format(uint64_t opened_us, unsigned long pid, uint64_t n, char *out, size_t outlen);
/* Whether name has that layout; *opened_us and seq ("<pid>-<n>", NUL-terminated, BATCHNAME_SEQ_MAX) when it has. */
bool batchname_parse(const char *name, uint64_t *opened_us, char seq[BATCHNAME_SEQ_MAX]);

#endif
