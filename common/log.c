/* log.c - JSON-lines logger shared by FastCGI programs and jobs. */
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Process-wide logger state (set before threads start; the FILE is locked by stdio). */
static struct {
	char program[64];
	char path[512];
	FILE *out;
	enum log_level level;
	pid_t pid; /* getpid() is a system call each time: kept, renewed in a forked child */
	int atfork;
} L = {.level = LOG_INFO};

/* The request this thread serves. */
static __thread struct {
	char request_id[80];
	char trace_id[33];
	long long user_id;
} R;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* The pid for a line: kept by log_open (and a forked child), asked for before it. */
static int log_pid(void)
{
	return (int)(L.pid ? L.pid : getpid());
}

/* In a forked child: its own pid in its lines. */
static void log_atfork_child(void)
{
	L.pid = getpid();
}

int log_open(const char *program, const char *file, const char *level)
{
	L.pid = getpid();
	if (!L.atfork && pthread_atfork(NULL, NULL, log_atfork_child) == 0)
		L.atfork = 1;
	snprintf(L.program, sizeof L.program, "%s", program ? program : "flashsale");
	snprintf(L.path, sizeof L.path, "%s", file ? file : "");
	L.level = LOG_INFO;
	for (int i = 0; i < 4; i++)
		if (level && !strcmp(level, level_names[i]))
			L.level = (enum log_level)i;
	L.out = stderr;
	if (L.path[0]) {
		FILE *f = fopen(L.path, "a");
		if (!f)
			return -1;
		setvbuf(f, NULL, _IOLBF, 0);
		L.out = f;
	}
	return 0;
}

void log_reopen(void)
{
	if (!L.path[0])
		return;
	/*
	 * A new file under the same descriptor, atomically (dup2): other threads may be writing,
	 * through stdio or, for access lines, with write(2) on the descriptor itself.
	 */
	if (L.out && L.out != stderr) {
		int fd = open(L.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0)
			return;
		fflush(L.out);
		dup2(fd, fileno(L.out));
		close(fd);
		return;
	}
	FILE *f = fopen(L.path, "a");
	if (!f)
		return;
	setvbuf(f, NULL, _IOLBF, 0);
	L.out = f;
}

void log_set_request(const char *request_id, long long user_id)
{
	snprintf(R.request_id, sizeof R.request_id, "%s", request_id ? request_id : "");
	R.user_id = user_id;
	if (!request_id)
		R.trace_id[0] = 0;
}

void log_set_trace(const char *traceparent)
{
	R.trace_id[0] = 0;
	/* W3C traceparent: 2 hex version, '-', 32 hex trace id, '-', 16 hex span, '-', flags. */
	if (!traceparent || strlen(traceparent) < 55 || traceparent[2] != '-' ||
	    traceparent[35] != '-')
		return;
	if (strspn(traceparent + 3, "0123456789abcdef") < 32)
		return;
	memcpy(R.trace_id, traceparent + 3, 32);
	R.trace_id[32] = 0;
	if (strspn(R.trace_id, "0") == 32)
		R.trace_id[0] = 0; /* all zeros is invalid */
}

/* A JSON string of s, with bytes that are not valid UTF-8 replaced by '?'. */
static json_t *log_string(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *copy = strdup(s);
	if (!copy)
		return json_string("");
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void log_json(enum log_level level, const char *msg, json_t *fields)
{
	if (level < L.level) {
		json_decref(fields);
		return;
	}
	struct timeval tv;
	struct tm tm;
	char ts[40];
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

	json_t *o = json_object();
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "level", json_string(level_names[level]));
	json_object_set_new(o, "program", json_string(L.program));
	json_object_set_new(o, "pid", json_integer(log_pid()));
	if (R.request_id[0])
		json_object_set_new(o, "requestId", json_string(R.request_id));
	if (R.trace_id[0])
		json_object_set_new(o, "traceId", json_string(R.trace_id));
	if (R.user_id)
		json_object_set_new(o, "userId", json_integer(R.user_id));
	json_object_set_new(o, "msg", log_string(msg ? msg : ""));
	if (fields)
		json_object_update_missing(o, fields);
	json_decref(fields);

	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line) {
		/* A field held invalid UTF-8: keep the line, without the fields. */
		json_t *bare = json_pack(
		    "{s:O,s:O,s:O,s:O,s:O,s:s}", "time", json_object_get(o, "time"), "level",
		    json_object_get(o, "level"), "program", json_object_get(o, "program"), "pid",
		    json_object_get(o, "pid"), "msg", json_object_get(o, "msg"), "error",
		    "log fields were not valid UTF-8");
		line = bare ? json_dumps(bare, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(bare);
	}
	if (line) {
		fprintf(L.out ? L.out : stderr, "%s\n", line);
		free(line);
	}
	json_decref(o);
}

/* The "userId":N, field of the current request, or "". */
static const char *log_user_field(void)
{
	static __thread char buf[40];
	if (!R.user_id)
		return "";
	snprintf(buf, sizeof buf, "\"userId\":%lld,", R.user_id);
	return buf;
}

/* Append s to out as JSON string contents (quotes, backslashes and controls escaped). */
static size_t log_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c >= 0x80) {
			/* Non-ASCII too: a path is not guaranteed to be UTF-8. */
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = 0;
	return n;
}

void log_access(const char *method, const char *path, const char *route, int status, int code,
		double latency_ms, const char *error)
{
	static __thread time_t cached_sec;
	static __thread char cached_ts[24];
	char epath[256], eerr[320], line[2048];
	struct timeval tv;

	if (LOG_INFO < L.level && status < 500)
		return;
	gettimeofday(&tv, NULL);
	if (tv.tv_sec != cached_sec) {
		struct tm tm;
		gmtime_r(&tv.tv_sec, &tm);
		strftime(cached_ts, sizeof cached_ts, "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = tv.tv_sec;
	}
	log_escape(epath, sizeof epath, path);
	eerr[0] = 0;
	if (error) {
		memcpy(eerr, ",\"error\":\"", 10);
		size_t n = 10 + log_escape(eerr + 10, sizeof eerr - 12, error);
		memcpy(eerr + n, "\"", 2);
	}
	/* Formatted by hand: this line is written for every request, on the hot path too. */
	int len =
	    snprintf(line, sizeof line,
		     "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"program\":\"%s\",\"pid\":%d,"
		     "%s%s%s%s%s%s%s\"msg\":\"request\",\"method\":\"%s\",\"path\":\"%s\","
		     "\"route\":\"%s\",\"status\":%d,\"code\":%d,\"latencyMs\":%.3f%s}\n",
		     cached_ts, (long)(tv.tv_usec / 1000), status >= 500 ? "error" : "info",
		     L.program, log_pid(), R.request_id[0] ? "\"requestId\":\"" : "", R.request_id,
		     R.request_id[0] ? "\"," : "", R.trace_id[0] ? "\"traceId\":\"" : "",
		     R.trace_id, R.trace_id[0] ? "\"," : "", log_user_field(), method, epath, route,
		     status, code, latency_ms, eerr);
	/* One write(2) of the line on the O_APPEND descriptor: whole, and without the FILE's lock
	 * that the serving threads would queue on. */
	if (len > 0 && write(fileno(L.out ? L.out : stderr), line,
			     (size_t)len < sizeof line ? (size_t)len : sizeof line - 1) < 0)
		return;
}

void log_printf(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	if (level < L.level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_json(level, buf, NULL);
}
