#include "lambda_log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096 /* a longer line is split: each part is a line of its own */

static char request_id[128];
static char pending[LINE_MAX_BYTES];
static size_t pending_len;

void lambda_log_request(const char *id)
{
    snprintf(request_id, sizeof request_id, "%s", id ? id : "");
}

/* Messages may quote S3 keys and pcap contents: printable ASCII only, so the JSON is always valid. */
static void emit(const char *level, const char *msg, size_t len)
{
    char clean[LINE_MAX_BYTES + 1];
    size_t n = 0;
    for (size_t i = 0; i < len && n < LINE_MAX_BYTES; i++)
        clean[n++] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '.';
    clean[n] = '\0';
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char stamp[64];
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    json_t *o = json_pack("{s:s, s:s, s:s}", "timestamp", stamp, "level", level, "message", clean);
    if (o && request_id[0])
        json_object_set_new(o, "requestId", json_string(request_id));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text) {
        size_t tlen = strlen(text);
        text[tlen] = '\n'; /* json_dumps' terminator becomes the newline; written as one piece */
        ssize_t w = write(STDERR_FILENO, text, tlen + 1);
        (void)w;
        text[tlen] = '\0';
    }
    free(text);
    json_decref(o);
}

void lambda_log(const char *level, const char *fmt, ...)
{
    char msg[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    emit(level, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

static ssize_t stderr_write(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '\n' || pending_len == sizeof pending) {
            emit("WARN", pending, pending_len);
            pending_len = 0;
            if (buf[i] == '\n')
                continue;
        }
        pending[pending_len++] = buf[i];
    }
    return (ssize_t)size;
}

static int stderr_close(void *cookie)
{
    (void)cookie;
    if (pending_len)
        emit("WARN", pending, pending_len);
    pending_len = 0;
    return 0;
}

int lambda_log_wrap_stderr(void)
{
    cookie_io_functions_t io = { .read = NULL, .write = stderr_write, .seek = NULL, .close = stderr_close };
    FILE *f = fopencookie(NULL, "w", io);
    if (!f)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    fflush(stderr);
    stderr = f;
    return 0;
}
