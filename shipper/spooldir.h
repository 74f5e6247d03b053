/* The spool directory as the shipper sees it: complete *.pcap files (the capturer's *.pcap.tmp are never touched),
 * and the failed/ subdirectory where files that met a permanent error are parked. All access goes through
 * directory file descriptors with names checked to hold no '/' and not start with '.'. */
#ifndef LURKER_SHIPPER_SPOOLDIR_H
#define LURKER_SHIPPER_SPOOLDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_FAILED_DIR "failed"
#define SPOOL_FILE_MAX (1024ull * 1024 * 1024) /* larger files are refused (a capturer flow is far smaller) */

struct spooldir {
    int dirfd;
    int failedfd;
    char path[256];
};

int spooldir_open(struct spooldir *s, const char *path, char *err, size_t errlen);
void spooldir_close(struct spooldir *s);

/* Whether NAME is a spool file name the shipper handles: "*.pcap", no '/', not starting with '.', short enough. */
bool spooldir_name_ok(const char *name);

/* Calls fn for each complete pcap in the spool (parked=false) or in failed/ (parked=true). Returns how many. */
size_t spooldir_scan(struct spooldir *s, bool parked, void (*fn)(const char *name, int64_t mtime, void *arg),
                     void *arg);

/* Reads a whole file (malloc'd). -1 with errno: ENOENT (gone: shipped already), EFBIG (over SPOOL_FILE_MAX), ... */
int spooldir_read(struct spooldir *s, const char *name, bool parked, uint8_t **data, size_t *len, int64_t *mtime);
bool spooldir_exists(struct spooldir *s, const char *name, bool parked);
int spooldir_remove(struct spooldir *s, const char *name, bool parked);
/* Moves NAME from the spool into failed/. */
int spooldir_park(struct spooldir *s, const char *name);

#endif
