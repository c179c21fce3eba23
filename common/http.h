/* http.h - the FastCGI HTTP layer: per-request context, route table, dispatcher, envelope. */
#ifndef FS_HTTP_H
#define FS_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "auth.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "errors.h"

struct app;
struct http_req;

/* A route handler: 0 with req->data set (or left NULL for {}), or an error code. */
typedef int (*route_fn)(struct app *app, struct http_req *req);

/* What the dispatcher enforces before a handler runs. */
enum route_flags {
	ROUTE_AUTH = 1 << 0,  /* a valid token with a live session */
	ROUTE_ADMIN = 1 << 1, /* ROUTE_AUTH and role "admin" */
	ROUTE_BODY = 1 << 2,  /* a JSON object body ({} if empty) */
	ROUTE_RAW = 1 << 3,   /* the handler writes the whole response (http_send) */
	ROUTE_JWT = 1 << 4,   /* a valid token, verified without I/O (no session lookup) */
};

/* One row of a program's route table. */
struct route {
	const char *method; /* "GET" or "POST" */
	const char *path;   /* full path, e.g. "/usercenter/v1/user/login" */
	unsigned flags;
	route_fn handler;
};

/* Process-lifetime state of a FastCGI program; each of its [http] threads has a copy with its
 * own db and cache connections (handlers use app->db and app->cache of the app they get). */
struct app {
	const char *program;
	struct fs_config cfg;
	struct db *db;
	struct cache *cache;
	const struct route *routes;
	size_t nroutes;
	void *domain;                            /* the program's own state (from its init hook) */
	int (*metrics_refresh)(struct app *app); /* sets scrape-time gauges; may be NULL */
	/* Set by the init hook when every handler is thread-safe: the program then serves with
	 * [http] threads threads per process; otherwise with one. */
	int threaded;
	/* Per thread (each thread serves with its own copy of the app, its own db and cache). */
	unsigned long mysql_seen, redis_seen; /* reconnects already counted */
};

/* Per-request context: zeroed and freed on each pass of the accept loop. */
struct http_req {
	void *io; /* the FastCGI request; only http.c looks inside */
	const char *method;
	char path[256];
	const char *query;
	const char *remote_addr;
	const char *authorization;
	char request_id[72];
	const struct route *route;
	json_t *params;            /* body object, or the query string as an object of strings */
	int params_are_query;      /* values are strings to be parsed */
	struct auth_claims claims; /* filled for ROUTE_AUTH and ROUTE_JWT routes */
	const char *token;         /* the presented token, for ROUTE_AUTH and ROUTE_JWT routes */
	/* response */
	int status; /* HTTP status sent */
	int code;   /* API code: 0 success, else enum fs_err */
	char msg[256];
	json_t *data;
	long retry_after;
	int sent; /* a ROUTE_RAW handler answered */
	/* GET: a Cache-Control header sent with a 200 or 404 answer */
	const char *cache_control;
};

/* Hook a program runs once at start-up, after config, db and cache exist. */
typedef int (*app_init_fn)(struct app *app);

/* Run a FastCGI program: load config, open log, connect lazily, accept and dispatch. */
int http_main(const char *program, const struct route *routes, size_t nroutes, app_init_fn init,
	      int argc, char **argv);

/* Set an error message (printf-style) and return code, for `return http_fail(...)`. */
int http_fail(struct http_req *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write a raw response (ROUTE_RAW handlers): status, content type, body. */
int http_send(struct http_req *req, int status, const char *content_type, const char *body,
	      size_t len);

/* A FastCGI parameter of the request (e.g. "HTTP_WECHATPAY_SIGNATURE"), or NULL. */
const char *http_param(struct http_req *req, const char *name);

/* The raw request body (valid during the request), for signature checks. */
const char *http_body(struct http_req *req, size_t *len);

/*
 * The value of query parameter name (decoded) in out, for POST routes whose URL also carries
 * one (e.g. /seckill/do?activityId=N). 1 found, 0 absent, or E_PARAM (naming it) when the query
 * is malformed or the value does not fit in len.
 */
int http_query_get(struct http_req *req, const char *name, char *out, size_t len);

/* Reset a request context for reuse (frees what it owns). */
void http_req_reset(struct http_req *req);

/* Handler for GET /<domain>/v1/healthz: MySQL and Redis checks (ROUTE_RAW). */
int http_healthz(struct app *app, struct http_req *req);

/* Handler for GET /<domain>/v1/metrics: Prometheus text for all workers (ROUTE_RAW). */
int http_metrics(struct app *app, struct http_req *req);

/* --- parameters (param.c): each returns 0 or E_PARAM with msg naming the field --- */

/* Is the field present (and not null)? */
int param_has(struct http_req *req, const char *name);

/* A string field, length in characters within [minlen, maxlen]; NULL if absent and optional. */
int param_str(struct http_req *req, const char *name, int required, size_t minlen, size_t maxlen,
	      const char **out);

/* An integer field within [min, max]; *out untouched if absent and optional. */
int param_int(struct http_req *req, const char *name, int required, long long min, long long max,
	      long long *out);

#endif
