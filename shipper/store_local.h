/* The `local` storage backend: KEY below archive_dir, written as KEY.tmp.PID, fsync'd, renamed, and the directory
 * fsync'd, so a file in the archive is always complete and survives a power cut once the spool copy is deleted. */
#ifndef LURKER_SHIPPER_STORE_LOCAL_H
#define LURKER_SHIPPER_STORE_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "s3.h"

/* Stores data under archive_dir/key (key already checked by key_is_safe). Returns S3_OK, S3_TRANSIENT (disk full,
 * I/O error) or S3_PERMANENT (permission, not a directory), with the reason in err. */
enum s3_outcome store_local_put(const char *archive_dir, const char *key, const uint8_t *data, size_t len, char *err,
                                size_t errlen);

#endif
