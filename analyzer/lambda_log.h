/* Log lines in the shape Lambda's JSON log format expects (LoggingConfig LogFormat JSON): one JSON object per line
 * with "timestamp", "level" and "message" (and "requestId" during an invocation). Lambda filters them by "level"
 * against ApplicationLogLevel; a plain-text line would be filed as INFO whatever it says. Flow records, which go to
 * stdout, stay as they are (no level: INFO, kept). */
#ifndef ANALYZER_LAMBDA_LOG_H
#define ANALYZER_LAMBDA_LOG_H

/* Replaces stderr with a stream that turns every line written to it (the analyzer's warnings, from any module)
 * into a JSON log line with level WARN on file descriptor 2. Returns 0, or -1 (stderr unchanged). */
int lambda_log_wrap_stderr(void);

/* The invocation the next lines belong to ("" between invocations). */
void lambda_log_request(const char *request_id);

/* One JSON log line with this level ("ERROR", "WARN", "INFO", ...). */
void lambda_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
