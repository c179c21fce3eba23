/* http.c - FastCGI accept loop, request parsing, flag enforcement and the JSON envelope. */
#include "http.h"

#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "trace.h"

#define HTTP_MAX_QUERY        8192
#define HTTP_MAX_QUERY_PARAMS 64
#define HTTP_MAX_DRAIN        (4u << 20) /* beyond this an oversized body is left unread */

/* What http.c keeps per request behind req->io. */
struct http_io {
	FCGX_Request fcgx;
	char *body;
	size_t body_len;
};

static volatile sig_atomic_t http_hup;

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

/* Install the signal handlers without SA_RESTART so accept() is interrupted. */
static void http_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = http_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = http_on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
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
	char head[512];
	int n;

	/* snprintf, not FCGX_FPrintF: libfcgi's own printf lacks %zu and friends. */
	n = snprintf(head, sizeof head, "Status: %d %s\r\nX-Request-Id: %s\r\n", status,
		     http_reason(status), req->request_id);
	if (req->retry_after > 0)
		n += snprintf(head + n, sizeof head - (size_t)n, "Retry-After: %ld\r\n",
			      req->retry_after);
	if (strcmp(req->method, "GET"))
		n += snprintf(head + n, sizeof head - (size_t)n, "Cache-Control: no-store\r\n");
	else if (req->cache_control && (status == 200 || status == 404))
		n += snprintf(head + n, sizeof head - (size_t)n, "Cache-Control: %.100s\r\n",
			      req->cache_control);
	if (content_type)
		n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n",
			      content_type);
	n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n\r\n", len);
	req->sent = 1;
	req->status = status;
	FCGX_PutStr(head, n, io->fcgx.out);
	if (len)
		FCGX_PutStr(body, (int)len, io->fcgx.out);
	return 0;
}

/* Send the envelope for req->code (and req->data on success). */
static void http_send_envelope(struct http_req *req)
{
	json_t *o;
	if (req->code == FS_OK) {
		json_t *data = req->data ? json_incref(req->data) : json_object();
		o = json_pack("{s:i,s:s,s:o}", "code", 200, "msg", "OK", "data", data);
	} else {
		o = json_pack("{s:i,s:s}", "code", req->code, "msg",
			      req->msg[0] ? req->msg : err_message(req->code));
	}
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

/* Is s a request id we will echo: 8-64 of [A-Za-z0-9._-]? */
static int http_valid_request_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 8 && n <= 64 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Decode %XX and '+' in place; returns the new length. */
static size_t http_unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '+') {
			*w++ = ' ';
		} else if (*r == '%' && r[1] && r[2] && strchr("0123456789abcdefABCDEF", r[1]) &&
			   strchr("0123456789abcdefABCDEF", r[2])) {
			char hex[3] = {r[1], r[2], 0};
			*w++ = (char)strtol(hex, NULL, 16);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
	return (size_t)(w - s);
}

/* Is name already a parameter, in any letter case? */
static int http_query_has(json_t *params, const char *name)
{
	const char *k;
	json_t *v;
	json_object_foreach(params, k, v)
	{
		if (!strcasecmp(k, name))
			return 1;
	}
	return 0;
}

/* Parse the query string into req->params (an object of strings). */
static int http_parse_query(struct http_req *req)
{
	req->params = json_object();
	req->params_are_query = 1;
	if (!req->query || !*req->query)
		return 0;
	if (strlen(req->query) > HTTP_MAX_QUERY)
		return http_fail(req, E_PARAM, "query string too long");
	char *copy = strdup(req->query), *save = NULL;
	int n = 0, rc = 0;
	for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		if (++n > HTTP_MAX_QUERY_PARAMS) {
			rc = http_fail(req, E_PARAM, "too many query parameters");
			break;
		}
		char *eq = strchr(kv, '=');
		char *val = eq ? eq + 1 : kv + strlen(kv);
		if (eq)
			*eq = 0;
		/*
		 * A web server's cache keys on parameters by name (nginx's $arg_x: the first
		 * one, any case, not decoded): names must be plain and appear once, so the
		 * parameter the program reads is the one in the key.
		 */
		if (strpbrk(kv, "%+") || http_query_has(req->params, kv)) {
			rc = http_fail(req, E_PARAM,
				       "query parameter names must be plain and appear once");
			break;
		}
		size_t vlen = http_unescape(val);
		json_t *js = json_stringn(val, vlen); /* NULL for invalid UTF-8 */
		if (!js) {
			rc = http_fail(req, E_PARAM, "%.64s: not valid UTF-8", kv);
			break;
		}
		json_object_set_new(req->params, kv, js);
	}
	free(copy);
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

/* Read and parse the JSON body (limit max_body) into req->params. */
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
	io->body = malloc(max + 1);
	if (!io->body)
		return E_SERVER;
	size_t got = 0;
	for (;;) {
		int n = FCGX_GetStr(io->body + got, (int)(max + 1 - got), io->fcgx.in);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got > max) {
			http_drain(io, HTTP_MAX_DRAIN);
			return http_fail(req, E_TOO_LARGE, "request body larger than %zu bytes",
					 max);
		}
	}
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

/* Verify the bearer token and its session; admin routes also check the role. */
static int http_authenticate(struct app *app, struct http_req *req)
{
	req->token = auth_bearer(req->authorization);
	if (!req->token || !*req->token)
		return http_fail(req, E_TOKEN, "token missing");
	if (auth_token_verify(&app->cfg, req->token, &req->claims) < 0)
		return http_fail(req, E_TOKEN, "token invalid or expired");
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
	if (req->route->flags & (ROUTE_AUTH | ROUTE_ADMIN)) {
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
	if (!http_valid_request_id(rid))
		rid = http_param(req, "HTTP_X_REQUEST_ID");
	if (http_valid_request_id(rid))
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
		free(io->body);
		io->body = NULL;
		io->body_len = 0;
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
	unsigned long mysql_seen, redis_seen;
} http_slots = {-1, -1, -1, 0, 0};

/* Define the HTTP layer's own counters (after metrics_open). */
static void http_metrics_define(void)
{
	http_slots.unknown_route = metrics_define("flashsale_http_unknown_route_total", NULL,
						  "Requests for paths no route serves.", 0);
	http_slots.mysql_connects = metrics_define("flashsale_mysql_connects_total", NULL,
						   "MySQL (re)connections made by workers.", 0);
	http_slots.redis_connects = metrics_define("flashsale_redis_connects_total", NULL,
						   "Redis (re)connections made by workers.", 0);
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
	metrics_add(http_slots.mysql_connects, (long long)(m - http_slots.mysql_seen));
	metrics_add(http_slots.redis_connects, (long long)(r - http_slots.redis_seen));
	http_slots.mysql_seen = m;
	http_slots.redis_seen = r;
}

/* Serve one accepted request. */
static void http_serve(struct app *app, struct http_req *req)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	http_req_begin(req);
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

int http_main(const char *program, const struct route *routes, size_t nroutes, app_init_fn init,
	      int argc, char **argv)
{
	static struct app app;
	static struct http_io io;
	struct http_req req;
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
	if (sodium_init() < 0 || FCGX_Init() != 0) {
		log_error("cannot initialise libsodium or libfcgi");
		return 1;
	}
	app.program = program;
	app.routes = routes;
	app.nroutes = nroutes;
	app.db = db_new(&app.cfg);
	app.cache = cache_new(&app.cfg);
	/* Before the init hook, so a program may define its own counters there. */
	if (metrics_open(app.cfg.metrics_dir, program, nroutes) == 0)
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
	http_signals();
	FCGX_InitRequest(&io.fcgx, 0, 0);
	memset(&req, 0, sizeof req);
	req.io = &io;
	log_info("ready");

	while (FCGX_Accept_r(&io.fcgx) >= 0) {
		if (http_hup) {
			http_hup = 0;
			log_reopen();
		}
		http_serve(&app, &req);
		FCGX_Finish_r(&io.fcgx);
		http_req_reset(&req);
	}
	log_info("shutting down");
	metrics_close();
	trace_close();
	db_free(app.db);
	cache_free(app.cache);
	config_free(&app.cfg);
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

int http_metrics(struct app *app, struct http_req *req)
{
	const char *paths[METRICS_MAX_ROUTES];
	size_t n = app->nroutes < METRICS_MAX_ROUTES ? app->nroutes : METRICS_MAX_ROUTES;
	for (size_t i = 0; i < n; i++)
		paths[i] = app->routes[i].path;
	if (app->metrics_refresh && app->metrics_refresh(app) < 0)
		log_warn("metrics: scrape-time gauges not refreshed");
	char *text = metrics_render(paths, n);
	if (!text)
		return http_fail(req, E_SERVER, "metrics are not enabled (metrics.dir)");
	http_send(req, 200, "text/plain; version=0.0.4", text, strlen(text));
	free(text);
	return 0;
}
