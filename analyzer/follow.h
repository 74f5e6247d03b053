/* --follow: the local twin of S3 -> SNS -> Lambda. Watches an archive directory tree with inotify and analyses every
 * new complete pcap once, appending its records (JSON lines, the CLI's format) to a log. */
#ifndef ANALYZER_FOLLOW_H
#define ANALYZER_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "run.h"

struct follow_options {
    const char *dir;        /* the archive's root */
    const char *log_path;   /* NULL: records go to run->out (stdout) */
    bool existing;          /* analyse the pcaps already present first (default: only new ones) */
    size_t max_file;        /* largest pcap read */
};

/* Runs until SIGTERM or SIGINT (returns 0), or until the directory cannot be watched (returns 1). SIGHUP reopens
 * the log file (for logrotate). */
int follow_main(const struct follow_options *opt, struct run *run);

#endif
