/* A regular file mapped read-only for its analysis instead of copied into memory (the copy and the fresh pages it
 * needs were a fifth of the analyzer's time on a large pcap). A mapped file that shrinks meanwhile (another process
 * truncates it) would raise SIGBUS on the first read past its new end; the guard maps zeros over the lost pages and
 * sets mapped_file_shrank, so the analysis ends normally and says the file was cut. One mapping at a time: the
 * analyzer reads its inputs one after another on one thread. */
#ifndef ANALYZER_MAPPED_FILE_H
#define ANALYZER_MAPPED_FILE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Set by the guard when the current mapping lost bytes; cleared by mapped_file_close. */
extern volatile sig_atomic_t mapped_file_shrank;

/* Maps len (> 0) bytes of fd, installing the guard on first use. Returns the mapping, or NULL with errno set. */
const uint8_t *mapped_file_open(int fd, size_t len);

void mapped_file_close(const uint8_t *data, size_t len);

#endif
