/* trace.h - request spans sent, off the request path, to the trace exporter as datagrams. */
#ifndef FS_TRACE_H
#define FS_TRACE_H

/*
 * Spans leave a worker as one JSON datagram each on a non-blocking Unix socket
 * (trace.socket); jobs/trace-exporter batches them into OTLP/HTTP JSON for the
 * collector. A full or absent exporter drops spans, never delays a request.
 */

/*
 * Use the exporter's socket ("" or NULL: tracing off); requests without a
 * sampled traceparent are traced at sample_percent (0-100). 0 or -1.
 */
int trace_open(const char *socket_path, const char *service, unsigned sample_percent);

/* Cap client-forced samples (a traceparent with the sampled flag) to per_second (default 10). */
void trace_set_forced_rate(unsigned per_second);

/* Close the socket. */
void trace_close(void);

/* Is the current request traced? (Callers skip span work when it is not.) */
int trace_enabled(void);

/* Start the request's root span: trace and parent from a W3C traceparent if valid. */
void trace_request_begin(const char *traceparent);

/* End the root span with the route name and HTTP status, and send it. */
void trace_request_end(const char *name, int status);

/* Nanoseconds since the epoch, for child spans. */
unsigned long long trace_now_ns(void);

/* Send a finished child span of the current request (kind "mysql", "redis", ...). */
void trace_child(const char *name, const char *kind, unsigned long long start_ns, int error);

/* The current trace id (32 hex) or "" outside a request. */
const char *trace_id(void);

#endif
