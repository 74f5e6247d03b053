#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_process = "lurker";
static enum log_level log_threshold = LOG_LEVEL_INFO;

void log_init(const char *process, enum log_level level)
{
    log_process = process;
    log_threshold = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_threshold)
        return;
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);

    /* One write per line so lines from several processes sharing a log never interleave. */
    char line[2048];
    int used = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000,
                        log_level_name(level), log_process);
    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + used, sizeof line - (size_t)used - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)used + (body < 0 ? 0 : (size_t)body);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}

const char *log_quote(const void *bytes, size_t len, char *out, size_t outlen)
{
    const unsigned char *in = bytes;
    size_t o = 0;
    if (outlen < 3) {
        if (outlen)
            out[0] = '\0';
        return out;
    }
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        char esc[5];
        size_t n;
        if (in[i] == '"' || in[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)in[i];
            n = 2;
        } else if (in[i] < 0x20 || in[i] > 0x7e) {
            snprintf(esc, sizeof esc, "\\x%02x", in[i]);
            n = 4;
        } else {
            esc[0] = (char)in[i];
            n = 1;
        }
        if (o + n + 2 > outlen)
            break;
        memcpy(out + o, esc, n);
        o += n;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
