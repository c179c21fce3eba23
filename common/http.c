/* http.c - FastCGI accept loop, request parsing, flag enforcement and the JSON envelope. */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "dynbuf.h"
#include "http-parse.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "signals.h"
#include "trace.h"
#include "workers.h"

#define HTTP_MAX_HEAD  1024u      /* response header block */
#define HTTP_MAX_DRAIN (4u << 20) /* beyond this an oversized body is left unread */

/* What http.c keeps per request behind req->io. */
struct http_io {
	FCGX_Request fcgx;
	char *body; /* max_body + 1 bytes, allocated on the thread's first body, kept (below) */
	size_t body_len;
	long rcv_ms;  /* the SO_RCVTIMEO in force on the connection, 0 for none */
	int read_all; /* the request's stdin was read to its end */
};

/* The listening socket is a Unix one: a connection may close without lingering (below). */
static int http_unix_listener;

static volatile sig_atomic_t http_hup;
static volatile int http_stopping; /* the main thread left its loop: the others follow */

/* One serving thread: its app copy (own db and cache), its FastCGI request and context. */
struct http_thread {
	struct app app;
	struct http_io io;
	struct http_req req;
	pthread_t tid;
	int started;
	int idle; /* waiting in FCGX_Accept_r (atomic): a wake-up signal cannot cut a request */
	int done; /* left its loop (atomic) */
};

/* SIGTERM/SIGINT: finish the request in flight, then leave the accept loop. */
static void http_on_term(int sig)
{
	(void)sig;
	FCGX_ShutdownPending();
}

/* SIGHUP: reopen the log file at the next pass. */
static void http_on_hup(int sig)
{
	(void)sig;
	http_hup = 1;
}

const char *http_param(struct http_req *req, const char *name)
{
	struct http_io *io = req->io;
	return FCGX_GetParam(name, io->fcgx.envp);
}

const char *http_body(struct http_req *req, size_t *len)
{
	struct http_io *io = req->io;
	*len = io->body_len;
	return io->body ? io->body : "";
}

int http_fail(struct http_req *req, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->msg, sizeof req->msg, fmt, ap);
	va_end(ap);
	return code;
}

/* Reason phrase for the statuses we send. */
static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

int http_send(struct http_req *req, int status, const char *content_type, const char *body,
	      size_t len)
{
	struct http_io *io = req->io;
	struct dynbuf head;

	/* A bounded buffer, every line checked: a header that does not fit fails the answer. */
	dynbuf_init(&head, HTTP_MAX_HEAD);
	dynbuf_printf(&head, "Status: %d %s\r\nX-Request-Id: %s\r\n", status, http_reason(status),
		      req->request_id);
	if (req->retry_after > 0)
		dynbuf_printf(&head, "Retry-After: %ld\r\n", req->retry_after);
	if (strcmp(req->method, "GET"))
		dynbuf_addstr(&head, "Cache-Control: no-store\r\n");
	else if (req->cache_control && (status == 200 || status == 404))
		dynbuf_printf(&head, "Cache-Control: %.100s\r\n", req->cache_control);
	if (content_type)
		dynbuf_printf(&head, "Content-Type: %s\r\n", content_type);
	if (dynbuf_printf(&head, "Content-Length: %zu\r\n\r\n", len) < 0) {
		log_error("response headers longer than %u bytes: not sent", HTTP_MAX_HEAD);
		static const char fail[] = "Status: 500 Internal Server Error\r\nContent-Length: "
					   "0\r\n\r\n";
		FCGX_PutStr(fail, (int)sizeof fail - 1, io->fcgx.out);
		req->sent = 1;
		req->status = 500;
		return -1;
	}
	req->sent = 1;
	req->status = status;
	FCGX_PutStr(dynbuf_ptr(&head), (int)dynbuf_len(&head), io->fcgx.out);
	dynbuf_free(&head);
	if (len)
		FCGX_PutStr(body, (int)len, io->fcgx.out);
	return 0;
}

/* Send the error envelope {"code":N,"msg":"..."} from a stack buffer: no allocation (a sold-out
 * crowd takes this path). Quotes, backslashes and controls are escaped; other bytes kept. */
static void http_send_error(struct http_req *req)
{
	char body[64 + 6 * sizeof req->msg];
	const char *msg = req->msg[0] ? req->msg : err_message(req->code);
	size_t n = (size_t)snprintf(body, sizeof body, "{\"code\":%d,\"msg\":\"", req->code);
	for (const char *p = msg; *p && n + 9 < sizeof body; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			body[n++] = '\\';
			body[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(body + n, sizeof body - n, "\\u%04x", c);
		} else {
			body[n++] = (char)c;
		}
	}
	memcpy(body + n, "\"}", 3);
	http_send(req, err_http_status(req->code), "application/json", body, n + 2);
}

/* Send the envelope for req->code (and req->data on success). */
static void http_send_envelope(struct http_req *req)
{
	json_t *o;
	if (req->code != FS_OK) {
		http_send_error(req);
		return;
	}
	json_t *data = req->data ? json_incref(req->data) : json_object();
	o = json_pack("{s:i,s:s,s:o}", "code", 200, "msg", "OK", "data", data);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int status = req->code == FS_OK ? 200 : err_http_status(req->code);
	if (!s) {
		static const char oom[] = "{\"code\":100001,\"msg\":\"server error\"}";
		http_send(req, 500, "application/json", oom, sizeof oom - 1);
	} else {
		http_send(req, status, "application/json", s, strlen(s));
	}
	free(s);
	json_decref(o);
}

/* Parse the query string into req->params (an object of strings). */
static int http_parse_query(struct http_req *req)
{
	char why[128];
	req->params_are_query = 1;
	if (http_query_parse(req->query, &req->params, why, sizeof why) < 0)
		return http_fail(req, E_PARAM, "%s", why);
	return 0;
}

int http_query_get(struct http_req *req, const char *name, char *out, size_t len)
{
	char why[128];
	json_t *q = NULL;
	int rc = 0;
	if (http_query_parse(req->query, &q, why, sizeof why) < 0)
		return http_fail(req, E_PARAM, "%s", why);
	json_t *v = json_object_get(q, name);
	if (json_is_string(v)) {
		size_t n = json_string_length(v);
		if (n >= len || memchr(json_string_value(v), 0, n)) {
			rc = http_fail(req, E_PARAM, "%.64s in the URL is too long", name);
		} else {
			memcpy(out, json_string_value(v), n);
			out[n] = 0;
			rc = 1;
		}
	}
	json_decref(q);
	return rc;
}

/*
 * Read and discard up to limit bytes of an oversized body, so a web server that
 * streams the body (Apache's mod_proxy_fcgi) sees it consumed and reads our 413.
 */
static void http_drain(struct http_io *io, size_t limit)
{
	char buf[8192];
	size_t seen = 0;
	int n;
	while (seen < limit && (n = FCGX_GetStr(buf, sizeof buf, io->fcgx.in)) > 0)
		seen += (size_t)n;
}

/* Is a Content-Type JSON: application/json or application/<x>+json, any parameters? */
static int http_json_type(const char *ct)
{
	if (!ct)
		return 0;
	size_t n = strcspn(ct, "; \t");
	if (n == 16 && !strncasecmp(ct, "application/json", 16))
		return 1;
	return n > 17 && !strncasecmp(ct, "application/", 12) &&
	       !strncasecmp(ct + n - 5, "+json", 5);
}

/* A body that is not JSON by its Content-Type: HTTP 415 with the envelope of code 100002. */
static int http_fail_unsupported(struct http_req *req)
{
	static const char body[] =
	    "{\"code\":100002,\"msg\":\"Content-Type must be application/json\"}";
	http_fail(req, E_PARAM, "Content-Type must be application/json");
	http_send(req, 415, "application/json", body, sizeof body - 1);
	return E_PARAM;
}

/* CLOCK_MONOTONIC in milliseconds. */
static long long http_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (an http_now_ms time); 0 when it has passed. */
static long http_ms_left(long long deadline)
{
	long long left = deadline - http_now_ms();
	return left > 0 ? (long)left : 0;
}

/* Bound each read() of the connection to ms milliseconds (0: no bound); skips the system
 * call while the bound in force is within 50 ms of it. */
static void http_recv_timeout(struct http_io *io, long ms)
{
	if (ms ? io->rcv_ms && io->rcv_ms - ms < 50 && ms - io->rcv_ms < 50 : !io->rcv_ms)
		return;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	if (setsockopt(io->fcgx.ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0)
		io->rcv_ms = ms;
}

/*
 * Read up to n body bytes before the deadline: the count (0 at the end of the body), or -1 when
 * the deadline passed or the connection failed. libfcgi has no timeout, so a read from the
 * socket happens only in a 1-byte FCGX_GetStr made when its buffer is empty, after
 * SO_RCVTIMEO is set to the time left; buffered bytes are copied without a read.
 */
static int http_read_some(struct http_io *io, char *buf, int n, long long deadline)
{
	FCGX_Stream *in = io->fcgx.in;
	int avail = (int)(in->stop - in->rdNext);
	if (avail <= 0) {
		long left = http_ms_left(deadline);
		if (!left)
			return -1;
		http_recv_timeout(io, left);
		n = 1;
	} else if (n > avail) {
		n = avail;
	}
	int got = FCGX_GetStr(buf, n, in);
	if (got <= 0 && FCGX_GetError(in))
		return -1;
	return got;
}

/* Read and parse the JSON body (limit max_body, deadline body_timeout_ms) into req->params. */
static int http_read_body(struct app *app, struct http_req *req)
{
	struct http_io *io = req->io;
	size_t max = (size_t)app->cfg.max_body;
	const char *cl = http_param(req, "CONTENT_LENGTH");
	long long want = cl && *cl ? atoll(cl) : -1;

	if (want > (long long)max) {
		http_drain(io, HTTP_MAX_DRAIN);
		return http_fail(req, E_TOO_LARGE, "request body larger than %zu bytes", max);
	}
	/*
	 * One buffer per serving thread, kept from request to request: allocating and freeing
	 * 64 KiB each time made glibc consolidate its free lists on every free (a chunk past
	 * FASTBIN_CONSOLIDATION_THRESHOLD), 1-2 % of the purchase's CPU. Only the pages a body
	 * touches are resident.
	 */
	if (!io->body && !(io->body = malloc(max + 1)))
		return E_SERVER;
	long long deadline = http_now_ms() + app->cfg.body_timeout_ms;
	size_t got = 0;
	for (;;) {
		int n = http_read_some(io, io->body + got, (int)(max + 1 - got), deadline);
		if (n < 0) {
			/* No more reads: libfcgi's close would otherwise linger while the client
			 * trickles. */
			http_recv_timeout(io, 0);
			shutdown(io->fcgx.ipcFd, SHUT_RD);
			return http_fail(req, E_PARAM, "request body incomplete after %ld ms",
					 app->cfg.body_timeout_ms);
		}
		if (n == 0) {
			io->read_all = 1;
			break;
		}
		got += (size_t)n;
		if (got > max) {
			http_recv_timeout(io, 0);
			http_drain(io, HTTP_MAX_DRAIN);
			return http_fail(req, E_TOO_LARGE, "request body larger than %zu bytes",
					 max);
		}
	}
	if (io->fcgx.keepConnection) /* the next request's wait must not be bounded */
		http_recv_timeout(io, 0);
	io->body[got] = 0;
	io->body_len = got;
	if (!(req->route->flags & ROUTE_BODY))
		return 0;

	size_t i = 0;
	while (i < got && strchr(" \t\r\n", io->body[i]))
		i++;
	if (i == got) {
		req->params = json_object();
		return 0;
	}
	if (!http_json_type(http_param(req, "CONTENT_TYPE")))
		return http_fail_unsupported(req);
	json_error_t jerr;
	req->params = json_loadb(io->body, got, JSON_REJECT_DUPLICATES, &jerr);
	if (!req->params)
		return http_fail(req, E_PARAM, "malformed JSON body (line %d, column %d)",
				 jerr.line, jerr.column);
	if (!json_is_object(req->params))
		return http_fail(req, E_PARAM, "request body must be a JSON object");
	return 0;
}

/* Verify the bearer token and (but for ROUTE_JWT) its session; admin routes check the role. */
static int http_authenticate(struct app *app, struct http_req *req)
{
	req->token = auth_bearer(req->authorization);
	if (!req->token || !*req->token)
		return http_fail(req, E_TOKEN, "token missing");
	if (auth_token_verify(&app->cfg, req->token, &req->claims) < 0)
		return http_fail(req, E_TOKEN, "token invalid or expired");
	if (!(req->route->flags & (ROUTE_AUTH | ROUTE_ADMIN))) {
		log_set_request(req->request_id, req->claims.user_id);
		return 0; /* ROUTE_JWT: revocation is the handler's (e.g. the purchase script's) */
	}
	int live = auth_session_check(app->cache, &req->claims);
	if (live < 0)
		return E_DB_BUSY;
	if (!live)
		return http_fail(req, E_TOKEN, "token revoked");
	if ((req->route->flags & ROUTE_ADMIN) && strcmp(req->claims.role, "admin"))
		return http_fail(req, E_FORBIDDEN, "admin only");
	log_set_request(req->request_id, req->claims.user_id);
	return 0;
}

/* Find the route for path; *path_known tells a wrong method from an unknown path. */
static const struct route *http_route(struct app *app, const char *method, const char *path,
				      int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < app->nroutes; i++) {
		if (strcmp(app->routes[i].path, path))
			continue;
		*path_known = 1;
		if (!strcmp(app->routes[i].method, method))
			return &app->routes[i];
	}
	return NULL;
}

/* Enforce the route's flags once, then run its handler. */
static int http_dispatch(struct app *app, struct http_req *req)
{
	int known, rc;
	req->route = http_route(app, req->method, req->path, &known);
	if (!req->route)
		return known
			   ? http_fail(req, E_NOT_FOUND, "method %s not allowed here", req->method)
			   : http_fail(req, E_NOT_FOUND, "unknown route");
	if (!strcmp(req->method, "POST"))
		rc = http_read_body(app, req);
	else
		rc = http_parse_query(req);
	if (rc)
		return rc;
	if (req->route->flags & (ROUTE_AUTH | ROUTE_ADMIN | ROUTE_JWT)) {
		rc = http_authenticate(app, req);
		if (rc)
			return rc;
	}
	return req->route->handler(app, req);
}

/* Fill the request context from the FastCGI parameters. */
static void http_req_begin(struct http_req *req)
{
	const char *uri = http_param(req, "REQUEST_URI");
	const char *m = http_param(req, "REQUEST_METHOD");
	req->method = m ? m : "GET";
	snprintf(req->path, sizeof req->path, "%s", uri ? uri : "/");
	char *q = strchr(req->path, '?');
	if (q)
		*q = 0;
	req->query = http_param(req, "QUERY_STRING");
	req->remote_addr = http_param(req, "REMOTE_ADDR");
	req->authorization = http_param(req, "HTTP_AUTHORIZATION");

	const char *rid = http_param(req, "REQUEST_ID");
	if (!http_request_id_valid(rid))
		rid = http_param(req, "HTTP_X_REQUEST_ID");
	if (http_request_id_valid(rid))
		snprintf(req->request_id, sizeof req->request_id, "%s", rid);
	else
		id_hex32(req->request_id);
	log_set_request(req->request_id, 0);
	log_set_trace(http_param(req, "HTTP_TRACEPARENT"));
	trace_request_begin(http_param(req, "HTTP_TRACEPARENT"));
}

void http_req_reset(struct http_req *req)
{
	struct http_io *io = req->io;
	json_decref(req->params);
	json_decref(req->data);
	if (io) {
		if (io->body) /* kept for the thread's next body; this one is gone */
			io->body[0] = 0;
		io->body_len = 0;
		io->rcv_ms = 0;
		io->read_all = 0;
	}
	memset(req, 0, sizeof *req);
	req->io = io;
}

/* Milliseconds between two monotonic instants. */
static double http_elapsed_ms(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/* Slots of the process-wide counters the HTTP layer keeps. */
static struct {
	int unknown_route;
	int mysql_connects;
	int redis_connects;
	int workers_live, redis_used, redis_max;
} http_slots = {-1, -1, -1, -1, -1, -1};

/* Define the HTTP layer's own counters (after metrics_open). */
static void http_metrics_define(void)
{
	http_slots.unknown_route = metrics_define("flashsale_http_unknown_route_total", NULL,
						  "Requests for paths no route serves.", 0);
	http_slots.mysql_connects = metrics_define("flashsale_mysql_connects_total", NULL,
						   "MySQL (re)connections made by workers.", 0);
	http_slots.redis_connects = metrics_define("flashsale_redis_connects_total", NULL,
						   "Redis (re)connections made by workers.", 0);
	http_slots.workers_live =
	    metrics_define("flashsale_workers_live", NULL,
			   "Workers serving this domain's socket now (counted at scrape time).", 1);
	http_slots.redis_used = metrics_define("flashsale_redis_used_memory_bytes", NULL,
					       "Redis used_memory at scrape time.", 1);
	http_slots.redis_max = metrics_define(
	    "flashsale_redis_maxmemory_bytes", NULL,
	    "Redis maxmemory (noeviction: writes are refused past it; 0 = no cap).", 1);
}

/* Count a served request in the shared metrics, with this worker's new (re)connects. */
static void http_account(struct app *app, struct http_req *req, double seconds)
{
	/* A raw handler's answer has no API code: 200 if it succeeded, else "0" (other). */
	int code = req->code ? req->code : (req->status < 300 ? 200 : 0);
	if (req->route)
		metrics_request((size_t)(req->route - app->routes), req->status, code, seconds);
	else
		metrics_add(http_slots.unknown_route, 1);
	unsigned long m = db_reconnects(app->db), r = cache_reconnects(app->cache);
	metrics_add(http_slots.mysql_connects, (long long)(m - app->mysql_seen));
	metrics_add(http_slots.redis_connects, (long long)(r - app->redis_seen));
	app->mysql_seen = m;
	app->redis_seen = r;
}

/* Serve one accepted request. */
static void http_serve(struct app *app, struct http_req *req)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	http_req_begin(req);
	db_request_begin(app->db);
	req->code = http_dispatch(app, req);
	if (!req->sent)
		http_send_envelope(req);
	log_access(req->method, req->path, req->route ? req->route->path : "-", req->status,
		   req->code ? req->code : 200, http_elapsed_ms(&t0),
		   req->status >= 500 ? (req->msg[0] ? req->msg : err_message(req->code)) : NULL);
	log_set_request(NULL, 0);
	http_account(app, req, http_elapsed_ms(&t0) / 1e3);
	trace_request_end(req->route ? req->route->path : "unknown route", req->status);
}

/*
 * The program's routes followed by the two every program serves, GET /<program>/v1/healthz
 * and /metrics (unless its table lists them already). 0, or -1 when out of memory.
 */
static int http_routes_build(struct app *app, const char *program, const struct route *routes,
			     size_t n)
{
	static const char *const names[] = {"healthz", "metrics"};
	static const route_fn fns[] = {http_healthz, http_metrics};
	static char paths[2][96];
	struct route *all = calloc(n + 2, sizeof *all);
	if (!all)
		return -1;
	memcpy(all, routes, n * sizeof *routes);
	size_t k = n;
	for (size_t i = 0; i < 2; i++) {
		int listed = 0;
		snprintf(paths[i], sizeof paths[i], "/%s/v1/%s", program, names[i]);
		for (size_t j = 0; j < n; j++)
			listed |= !strcmp(routes[j].path, paths[i]);
		if (!listed)
			all[k++] = (struct route){.method = "GET",
						  .path = paths[i],
						  .flags = ROUTE_RAW,
						  .handler = fns[i]};
	}
	app->routes = all;
	app->nroutes = k;
	return 0;
}

/* SIGUSR2: nothing; it only interrupts a thread's accept() once the program is stopping. */
static void http_on_wake(int sig)
{
	(void)sig;
}

/* Accept and serve until the socket fails or the program stops. */
static void http_loop(struct http_thread *t)
{
	for (;;) {
		__atomic_store_n(&t->idle, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&http_stopping, __ATOMIC_SEQ_CST))
			break;
		int rc = FCGX_Accept_r(&t->io.fcgx);
		__atomic_store_n(&t->idle, 0, __ATOMIC_SEQ_CST);
		if (rc < 0)
			break;
		if (__atomic_exchange_n(&http_hup, 0, __ATOMIC_SEQ_CST))
			log_reopen();
		http_serve(&t->app, &t->req);
		/*
		 * libfcgi closes a connection by shutting its side, then polling and reading until
		 * the web server closes too (against a TCP reset eating the answer), which costs
		 * three system calls and a wake-up per request. A Unix socket has no reset: once
		 * the request was read whole, stdin to its end, close at once (detached). Not
		 * before: a web server still sending (Apache sends a GET's empty stdin after its
		 * parameters) would fail on the closed socket.
		 */
		if (http_unix_listener && t->io.read_all)
			FCGX_Detach(&t->io.fcgx);
		FCGX_Finish_r(&t->io.fcgx);
		http_req_reset(&t->req);
	}
	free(t->io.body);
	t->io.body = NULL;
	__atomic_store_n(&t->idle, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
}

/* A thread beside the main one: its own connections, then the loop. */
static void *http_thread_main(void *arg)
{
	struct http_thread *t = arg;
	mysql_thread_init();
	http_loop(t);
	mysql_thread_end();
	return NULL;
}

/* Make thread t's context: a copy of the app with its own (lazy) db and cache. 0 or -1. */
static int http_thread_init(struct http_thread *t, const struct app *app)
{
	t->app = *app;
	t->app.db = db_new(&app->cfg);
	t->app.cache = cache_new(&app->cfg);
	t->app.mysql_seen = t->app.redis_seen = 0;
	if (!t->app.db || !t->app.cache)
		return -1;
	FCGX_InitRequest(&t->io.fcgx, 0, 0);
	t->req.io = &t->io;
	return 0;
}

/* Start threads 1..n-1 with the stop and reopen signals blocked (the main thread takes them). */
static void http_threads_start(struct http_thread *th, size_t n, const struct app *app)
{
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (size_t i = 1; i < n; i++) {
		if (http_thread_init(&th[i], app) < 0 ||
		    pthread_create(&th[i].tid, NULL, http_thread_main, &th[i]) != 0) {
			log_warn("thread %zu of %zu not started", i + 1, n);
			db_free(th[i].app.db);
			cache_free(th[i].app.cache);
			break;
		}
		th[i].started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* After the main loop: wake the idle threads (SIGUSR2 cuts their accept), let busy ones finish
 * their request, join them all (at most ~10 s), free their connections. */
static void http_threads_stop(struct http_thread *th, size_t n)
{
	__atomic_store_n(&http_stopping, 1, __ATOMIC_SEQ_CST);
	FCGX_ShutdownPending();
	for (int round = 0; round < 200; round++) {
		int left = 0;
		for (size_t i = 1; i < n; i++) {
			if (!th[i].started || __atomic_load_n(&th[i].done, __ATOMIC_SEQ_CST))
				continue;
			left++;
			if (__atomic_load_n(&th[i].idle, __ATOMIC_SEQ_CST))
				pthread_kill(th[i].tid, SIGUSR2);
		}
		if (!left)
			break;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	for (size_t i = 1; i < n; i++) {
		if (!th[i].started)
			continue;
		if (!__atomic_load_n(&th[i].done, __ATOMIC_SEQ_CST)) {
			log_warn("thread %zu did not stop", i + 1);
			continue;
		}
		pthread_join(th[i].tid, NULL);
		db_free(th[i].app.db);
		cache_free(th[i].app.cache);
	}
}

int http_main(const char *program, const struct route *routes, size_t nroutes, app_init_fn init,
	      int argc, char **argv)
{
	static struct app app;
	struct http_thread *th = NULL;
	char err[512];
	const char *conf = NULL;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			conf = argv[++i];
	if (config_load(&app.cfg, conf, err, sizeof err) < 0) {
		fprintf(stderr, "%s: %s\n", program, err);
		return 1;
	}
	if (log_open(program, app.cfg.log_file, app.cfg.log_level) < 0) {
		fprintf(stderr, "%s: cannot open log file %s\n", program, app.cfg.log_file);
		return 1;
	}
	/* The libraries' process-wide set-up, once, before any thread exists. */
	if (sodium_init() < 0 || FCGX_Init() != 0 || mysql_library_init(0, NULL, NULL) != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_error("cannot initialise libsodium, libfcgi, the MySQL client or libcurl");
		return 1;
	}
	json_object_seed(0);
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	http_unix_listener =
	    getsockname(0, (struct sockaddr *)&ss, &sslen) == 0 && ss.ss_family == AF_UNIX;
	app.program = program;
	if (http_routes_build(&app, program, routes, nroutes) < 0) {
		log_error("out of memory");
		return 1;
	}
	app.db = db_new(&app.cfg);
	db_set_wait_ms((int)app.cfg.mysql_request_wait_ms);
	app.cache = cache_new(&app.cfg);
	/* Before the init hook, so a program may define its own counters there. */
	if (metrics_open(app.cfg.metrics_dir, program, app.nroutes) == 0)
		http_metrics_define();
	else if (app.cfg.metrics_dir[0])
		log_warn("metrics off: cannot map %s/%s.metrics", app.cfg.metrics_dir, program);
	if (app.cfg.trace_socket[0] &&
	    trace_open(app.cfg.trace_socket, program, (unsigned)app.cfg.trace_sample_percent) < 0)
		log_warn("tracing off: bad trace.socket %s", app.cfg.trace_socket);
	trace_set_forced_rate((unsigned)app.cfg.trace_forced_rate);
	if (!app.db || !app.cache || (init && init(&app) < 0)) {
		log_error("start-up failed");
		return 1;
	}
	size_t nth = app.threaded && app.cfg.http_threads > 0 ? (size_t)app.cfg.http_threads : 1;
	th = calloc(nth, sizeof *th);
	if (!th) {
		log_error("start-up failed");
		free(th);
		return 1;
	}
	signals_install(http_on_term, http_on_hup);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = http_on_wake; /* no SA_RESTART: accept() returns EINTR */
	sigaction(SIGUSR2, &sa, NULL);
	/* multiwatch's stop signal (libfcgi catches it for itself): the main thread stops all. */
	sa.sa_handler = http_on_term;
	sigaction(SIGUSR1, &sa, NULL);
	/* Thread 0 is this one, with the app itself. */
	th[0].app = app;
	FCGX_InitRequest(&th[0].io.fcgx, 0, 0);
	th[0].req.io = &th[0].io;
	http_threads_start(th, nth, &app);
	log_info("ready");

	http_loop(&th[0]);
	log_info("shutting down");
	http_threads_stop(th, nth);
	metrics_close();
	trace_close();
	db_free(app.db);
	cache_free(app.cache);
	config_free(&app.cfg);
	free((void *)app.routes);
	free(th);
	return 0;
}

int http_healthz(struct app *app, struct http_req *req)
{
	int mysql_ok = db_ping(app->db) == DB_OK;
	int redis_ok = cache_ping(app->cache) == 0;
	int ok = mysql_ok && redis_ok;
	json_t *o = json_pack("{s:s,s:{s:s,s:s}}", "status", ok ? "ok" : "degraded", "checks",
			      "mysql", mysql_ok ? "ok" : "down", "redis", redis_ok ? "ok" : "down");
	char *s = json_dumps(o, JSON_COMPACT);
	http_send(req, ok ? 200 : 503, "application/json", s, strlen(s));
	free(s);
	json_decref(o);
	return 0;
}

/* A number field ("name:123") of a Redis INFO answer, or -1. */
static long long http_info_field(const char *info, const char *name)
{
	size_t len = strlen(name);
	const char *p = info;
	while (p && *p) {
		if (!strncmp(p, name, len) && p[len] == ':')
			return atoll(p + len + 1);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* Scrape-time gauges every domain reports: its live workers, and Redis memory against its
 * maxmemory (Redis runs noeviction: alert on used / max before writes are refused). */
static void http_gauges(struct app *app)
{
	int live = workers_live();
	if (live >= 0)
		metrics_set(http_slots.workers_live, live);
	redisReply *r = cache_command(app->cache, "INFO memory");
	if (r && r->type == REDIS_REPLY_STRING) {
		long long used = http_info_field(r->str, "used_memory");
		long long max = http_info_field(r->str, "maxmemory");
		if (used >= 0)
			metrics_set(http_slots.redis_used, used);
		if (max >= 0)
			metrics_set(http_slots.redis_max, max);
	}
	if (r)
		freeReplyObject(r);
}

int http_metrics(struct app *app, struct http_req *req)
{
	const char *paths[METRICS_MAX_ROUTES];
	size_t n = app->nroutes < METRICS_MAX_ROUTES ? app->nroutes : METRICS_MAX_ROUTES;
	for (size_t i = 0; i < n; i++)
		paths[i] = app->routes[i].path;
	http_gauges(app);
	if (app->metrics_refresh && app->metrics_refresh(app) < 0)
		log_warn("metrics: scrape-time gauges not refreshed");
	metrics_dependencies(app->db, app->cache);
	char *text = metrics_render(paths, n);
	if (!text)
		return http_fail(req, E_SERVER, "metrics are not enabled (metrics.dir)");
	http_send(req, 200, "text/plain; version=0.0.4", text, strlen(text));
	free(text);
	return 0;
}
