/* trace.c - W3C trace context and span datagrams for jobs/trace-exporter. */
#include "trace.h"
#include "ids.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The process's tracing state (set before threads start; the bucket under its lock). */
static struct {
	int fd;
	struct sockaddr_un addr;
	char service[64];
	unsigned sample_percent;
	/* Token bucket of client-forced samples: at most forced_rate per second. */
	pthread_mutex_t forced_lock;
	unsigned forced_rate;
	double forced_tokens;
	unsigned long long forced_ns;
} T = {.fd = -1, .forced_lock = PTHREAD_MUTEX_INITIALIZER, .forced_rate = 10, .forced_tokens = 10};

/* The request this thread traces. */
static __thread struct {
	char trace_id[33];
	char span_id[17];
	char parent_id[17];
	unsigned long long start_ns;
} TR;

void trace_set_forced_rate(unsigned per_second)
{
	pthread_mutex_lock(&T.forced_lock);
	T.forced_rate = per_second;
	T.forced_tokens = per_second;
	T.forced_ns = 0;
	pthread_mutex_unlock(&T.forced_lock);
}

/* Take a token for a client-forced sample; 1 if one was left. */
static int trace_forced_take(void)
{
	struct timespec ts;
	int took = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long now =
	    (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	pthread_mutex_lock(&T.forced_lock);
	if (T.forced_ns)
		T.forced_tokens += (double)(now - T.forced_ns) * T.forced_rate / 1e9;
	T.forced_ns = now;
	if (T.forced_tokens > T.forced_rate)
		T.forced_tokens = T.forced_rate;
	if (T.forced_tokens >= 1) {
		T.forced_tokens -= 1;
		took = 1;
	}
	pthread_mutex_unlock(&T.forced_lock);
	return took;
}

int trace_open(const char *socket_path, const char *service, unsigned sample_percent)
{
	struct sockaddr_un sa;
	if (!socket_path || !*socket_path || strlen(socket_path) >= sizeof sa.sun_path)
		return -1;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	/* Not connected: each span is sent to the address, so an exporter started later is found.
	 */
	T.addr = sa;
	T.fd = fd;
	snprintf(T.service, sizeof T.service, "%s", service);
	T.sample_percent = sample_percent;
	return 0;
}

void trace_close(void)
{
	if (T.fd >= 0)
		close(T.fd);
	T.fd = -1;
}

int trace_enabled(void)
{
	return T.fd >= 0 && TR.trace_id[0];
}

unsigned long long trace_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* n random bytes as hex into out (2n+1 bytes). */
static void trace_hex(char *out, size_t n)
{
	unsigned char b[16];
	id_random(b, n);
	sodium_bin2hex(out, 2 * n + 1, b, n);
}

/* Is s exactly len lowercase hex digits, not all zero? */
static int trace_valid_hex(const char *s, size_t len)
{
	return strspn(s, "0123456789abcdef") >= len && strspn(s, "0") < len;
}

void trace_request_begin(const char *traceparent)
{
	if (T.fd < 0)
		return;
	TR.trace_id[0] = 0;
	TR.parent_id[0] = 0;
	int valid = traceparent && strlen(traceparent) >= 55 && traceparent[2] == '-' &&
		    traceparent[35] == '-' && traceparent[52] == '-' &&
		    trace_valid_hex(traceparent + 3, 32) && trace_valid_hex(traceparent + 36, 16);
	/*
	 * Sampling keeps tracing off the hot path's budget: a caller that sampled its
	 * own span (traceparent flag 01) is followed up to trace.forced_per_second per
	 * process, so a client cannot make every request traced; the rest are traced at
	 * trace.sample_percent (continuing the caller's trace when it sent one).
	 */
	int sampled = valid && (strtol(traceparent + 53, NULL, 16) & 1) && trace_forced_take();
	if (!sampled)
		sampled = id_uniform(100) < T.sample_percent;
	if (!sampled)
		return;
	if (valid) {
		memcpy(TR.trace_id, traceparent + 3, 32);
		TR.trace_id[32] = 0;
		memcpy(TR.parent_id, traceparent + 36, 16);
		TR.parent_id[16] = 0;
	} else {
		trace_hex(TR.trace_id, 16);
	}
	trace_hex(TR.span_id, 8);
	TR.start_ns = trace_now_ns();
}

/* Send one span as a datagram; dropped if the exporter is absent or busy. */
static void trace_send(const char *span_id, const char *parent, const char *name, const char *kind,
		       unsigned long long start, unsigned long long end, int status, int error)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:b}", "service", T.service,
			      "traceId", TR.trace_id, "spanId", span_id, "parentSpanId", parent,
			      "name", name, "kind", kind, "start", (json_int_t)start, "end",
			      (json_int_t)end, "status", status, "error", error);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s)
		(void)sendto(T.fd, s, strlen(s), MSG_DONTWAIT | MSG_NOSIGNAL,
			     (const struct sockaddr *)&T.addr, sizeof T.addr);
	free(s);
	json_decref(o);
}

void trace_request_end(const char *name, int status)
{
	if (T.fd < 0 || !TR.trace_id[0])
		return;
	trace_send(TR.span_id, TR.parent_id, name, "server", TR.start_ns, trace_now_ns(), status,
		   status >= 500);
	TR.trace_id[0] = 0;
}

void trace_child(const char *name, const char *kind, unsigned long long start_ns, int error)
{
	char id[17];
	if (T.fd < 0 || !TR.trace_id[0])
		return;
	trace_hex(id, 8);
	trace_send(id, TR.span_id, name, kind, start_ns, trace_now_ns(), 0, error);
}

const char *trace_id(void)
{
	return TR.trace_id;
}
