/* Where pcaps come from: files, directories (recursively), stdin ("-"). Each pcap is read whole into memory
 * (bounded by max_bytes) and handed to a callback with the name records carry in `s3path`. */
#ifndef ANALYZER_INPUTS_H
#define ANALYZER_INPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define INPUT_DEFAULT_MAX_BYTES (1024ull * 1024 * 1024)

/* Called per pcap; data is freed after it returns. Returns non-zero when that input failed. */
typedef int (*pcap_fn)(const char *name, const uint8_t *data, size_t len, void *arg);

/* Reads one local path: "-" is stdin, a directory is walked in name order (only *.pcap, *.pcapng, *.cap files;
 * symbolic links are not followed). Reports unreadable files on stderr. Returns the number of failed inputs. */
int input_local(const char *path, size_t max_bytes, pcap_fn fn, void *arg);

/* Whether the file just opened (its fstat) was analysed already. */
typedef bool (*input_seen_fn)(void *arg, const struct stat *st);
/* One file by name without following a symbolic link (O_NOFOLLOW), read only if what was opened is a regular file
 * and SEEN (may be NULL) does not know it: the name cannot be swapped for a link between a check and the open,
 * since the checks are made on the open file. A name that is gone is no error. Returns 1 when it failed. */
int input_file_nofollow(const char *path, size_t max_bytes, input_seen_fn seen, void *seen_arg, pcap_fn fn,
                        void *arg);

/* Reads a whole stream into a malloc'd buffer, at most max_bytes (more is an error). */
int input_read_stream(int fd, size_t max_bytes, uint8_t **data, size_t *len, char *err, size_t errlen);

/* The sensor a path or S3 key names, written into out (empty when it names none): a path component "sensor=ID",
 * or, in an S3 key, the component just before "pcap/YYYY/" (the shipper's key layout with a per-sensor prefix,
 * e.g. "sensor-1/pcap/2026/11/25/19/..."). */
void sensor_from_path(const char *path, bool is_s3_key, char *out, size_t outlen);

#endif
