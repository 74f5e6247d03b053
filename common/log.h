/* One line per event on stderr: "2026-11-25T19:30:01.123Z info responder event=start iface=veth0 ...".
 * Callers write the key=value part themselves; log_quote() makes an attacker-controlled value safe to embed. */
#ifndef LURKER_LOG_H
#define LURKER_LOG_H

#include <stddef.h>

#include "config.h"

void log_init(const char *process, enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/* Writes "..." with \" \\ and non-printable bytes as \xNN, truncated to fit. Returns out. */
const char *log_quote(const void *bytes, size_t len, char *out, size_t outlen);

#endif
