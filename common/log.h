/* log.h - one JSON object per line: time, level, program, pid, request id, message, fields. */
#ifndef FS_LOG_H
#define FS_LOG_H

#include <jansson.h>

/* Severity, lowest first. */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Open the log: program name, file path ("" or NULL: stderr), level name. */
int log_open(const char *program, const char *file, const char *level);

/* Reopen the file (after logrotate moved it); safe to call from the main loop. */
void log_reopen(void);

/* Set the request context stamped on every line until cleared (NULL clears). */
void log_set_request(const char *request_id, long long user_id);

/* Stamp lines with the trace id of a W3C traceparent header (invalid or NULL: none). */
void log_set_trace(const char *traceparent);

/* Write one line; fields (may be NULL) is an object whose reference is stolen. */
void log_json(enum log_level level, const char *msg, json_t *fields);

/*
 * The per-request line: like log_json(LOG_INFO, "request", {...}) but formatted
 * without allocations (it runs for every request). error may be NULL.
 * Written at info level; 5xx answers are written at error level whatever the level.
 */
void log_access(const char *method, const char *path, const char *route, int status, int code,
		double latency_ms, const char *error);

/* printf-style convenience without fields. */
void log_printf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_printf(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_printf(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_printf(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_printf(LOG_ERROR, __VA_ARGS__)

#endif
