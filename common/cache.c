/* cache.c - hiredis wrapper: lazy connect with timeouts, breaker, one retry on a dropped link. */
#include "cache.h"

#include "cache-cluster.h"
#include "cache-pipe.h"

#include <errno.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "log.h"
#include "trace.h"

#define CACHE_MAX_ARGS 64

struct cache {
	const struct fs_config *cfg;
	redisContext *ctx;
	struct breaker brk;
	unsigned long reconnects;
	struct cache_cluster *cl; /* [redis] cluster set: route by slot (cache-cluster.c) */
	struct cache_pipe *pipe;  /* a shared handle: threads' commands pipelined (cache-pipe.c) */
};

struct cache *cache_new(const struct fs_config *cfg)
{
	struct cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->cfg = cfg;
	c->brk.cooldown_ms = cfg->breaker_cooldown_ms;
	if (cfg->redis_cluster && cfg->redis_cluster[0]) {
		c->cl = cache_cluster_new(cfg);
		if (!c->cl) {
			free(c);
			return NULL;
		}
	}
	return c;
}

struct cache *cache_new_shared(const struct fs_config *cfg)
{
	if (cfg->redis_cluster && cfg->redis_cluster[0])
		return NULL;
	struct cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->cfg = cfg;
	c->pipe = cache_pipe_new(cfg);
	if (!c->pipe) {
		free(c);
		return NULL;
	}
	return c;
}

/* The pipe of a shared handle, NULL otherwise (see cache-pipe.h). */
struct cache_pipe *cache_pipe_of(struct cache *c)
{
	return c->pipe;
}

/* The cluster client, NULL in single-node mode (see cache-cluster.h). */
struct cache_cluster *cache_cluster_of(struct cache *c)
{
	return c->cl;
}

int cache_link_closed(const redisContext *ctx)
{
	return ctx->err == REDIS_ERR_EOF || (ctx->err == REDIS_ERR_IO && errno == EPIPE);
}

/* Drop the connection. */
static void cache_disconnect(struct cache *c)
{
	if (c->ctx)
		redisFree(c->ctx);
	c->ctx = NULL;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	cache_disconnect(c);
	cache_cluster_free(c->cl);
	cache_pipe_free(c->pipe);
	free(c);
}

/* Connect with cfg's timeouts and AUTH, through brk (see cache-cluster.h); shared by both modes. */
redisContext *cache_dial(const struct fs_config *cfg, const char *host, int port,
			 struct breaker *brk)
{
	if (!breaker_allow(brk))
		return NULL;
	struct timeval tv = {cfg->redis_timeout_ms / 1000, (cfg->redis_timeout_ms % 1000) * 1000};
	redisContext *ctx = host ? redisConnectWithTimeout(host, port, tv)
				 : redisConnectUnixWithTimeout(cfg->redis_socket, tv);
	if (!ctx || ctx->err) {
		if (brk->failures == 0)
			log_warn("redis connect: %s", ctx ? ctx->errstr : "out of memory");
		if (ctx)
			redisFree(ctx);
		breaker_fail(brk);
		return NULL;
	}
	redisSetTimeout(ctx, tv);
	if (cfg->redis_password[0]) {
		redisReply *r = redisCommand(ctx, "AUTH %s", cfg->redis_password);
		int bad = !r || r->type == REDIS_REPLY_ERROR;
		if (r)
			freeReplyObject(r);
		if (bad) {
			log_error("redis AUTH failed");
			redisFree(ctx);
			breaker_fail(brk);
			return NULL;
		}
	}
	if (brk->failures)
		log_info("redis connection restored");
	breaker_ok(brk);
	return ctx;
}

redisContext *cache_dial_server(const struct fs_config *cfg, struct breaker *brk)
{
	return cache_dial(cfg, cfg->redis_socket[0] ? NULL : cfg->redis_host, (int)cfg->redis_port,
			  brk);
}

/* Connect unless connected; -1 while the breaker is open or on failure. */
static int cache_connect(struct cache *c)
{
	if (c->ctx)
		return 0;
	c->ctx = cache_dial_server(c->cfg, &c->brk);
	if (!c->ctx)
		return -1;
	c->reconnects++;
	return 0;
}

/*
 * Send one formatted command and read its reply. A closed link (EOF, or EPIPE
 * on a Unix socket) is what a restarted server leaves behind: the command never
 * ran there, so one retry on a fresh connection is safe. A timeout is not
 * retried: the command may have run.
 */
static redisReply *cache_roundtrip(struct cache *c, const char *cmd, size_t len)
{
	if (c->cl)
		return cache_cluster_roundtrip(c->cl, cmd, len);
	if (c->pipe)
		return cache_pipe_roundtrip(c->pipe, cmd, len);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (cache_connect(c) < 0)
			return NULL;
		void *reply = NULL;
		if (redisAppendFormattedCommand(c->ctx, cmd, len) == REDIS_OK &&
		    redisGetReply(c->ctx, &reply) == REDIS_OK && reply)
			return reply;
		int closed = cache_link_closed(c->ctx);
		log_warn("redis: %s", c->ctx->errstr);
		cache_disconnect(c);
		if (!closed || attempt == 1) {
			breaker_fail(&c->brk);
			return NULL;
		}
	}
	return NULL;
}

/* Send a child span for one command of the traced request (name: the command word). */
static void cache_trace(const char *cmd, size_t len, unsigned long long t0, const redisReply *r)
{
	char name[32];
	if (!t0)
		return;
	snprintf(name, sizeof name, "%.*s", (int)(len < 31 ? len : 31), cmd);
	trace_child(name, "redis", t0, !r || r->type == REDIS_REPLY_ERROR);
}

redisReply *cache_commandv(struct cache *c, int argc, const char **argv, const size_t *lens)
{
	unsigned long long t0 = trace_enabled() ? trace_now_ns() : 0;
	char *cmd = NULL;
	int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (len < 0)
		return NULL;
	redisReply *r = cache_roundtrip(c, cmd, (size_t)len);
	redisFreeCommand(cmd);
	if (argc > 0)
		cache_trace(argv[0], lens ? lens[0] : strlen(argv[0]), t0, r);
	return r;
}

redisReply *cache_command(struct cache *c, const char *fmt, ...)
{
	unsigned long long t0 = trace_enabled() ? trace_now_ns() : 0;
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	int len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0)
		return NULL;
	redisReply *r = cache_roundtrip(c, cmd, (size_t)len);
	redisFreeCommand(cmd);
	cache_trace(fmt, strcspn(fmt, " "), t0, r);
	return r;
}

/* Fill s->sha from its source text, once per process (threads share the script). */
static void cache_script_sha(struct cache_script *s)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	unsigned char md[SHA_DIGEST_LENGTH];
	if (__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&lock);
	if (!s->ready) {
		SHA1((const unsigned char *)s->src, strlen(s->src), md);
		for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
			snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
		__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
}

/* A reply of type ERROR made here (freed by freeReplyObject like any other); NULL on ENOMEM. */
static redisReply *cache_error_reply(const char *msg)
{
	redisReply *r = calloc(1, sizeof *r);
	if (!r || !(r->str = strdup(msg))) {
		free(r);
		return NULL;
	}
	r->type = REDIS_REPLY_ERROR;
	r->len = strlen(msg);
	return r;
}

/* The debug check: do a script's keys hash to more than one slot? Logs the culprit. */
static int cache_eval_slots_differ(const struct cache_script *s, int nkeys, const char **keys)
{
	for (int i = 1; i < nkeys; i++) {
		int a = cache_key_slot(keys[0], strlen(keys[0]));
		int b = cache_key_slot(keys[i], strlen(keys[i]));
		if (a != b) {
			log_error("redis cluster: script keys %s (slot %d) and %s (slot %d) "
				  "differ: %.40s",
				  keys[0], a, keys[i], b, s->src);
			return 1;
		}
	}
	return 0;
}

redisReply *cache_eval(struct cache *c, struct cache_script *s, int nkeys, int argc,
		       const char **argv)
{
	const char *small[CACHE_MAX_ARGS + 3];
	char nk[16];
	/* Batches (the order-writer's) pass thousands of arguments: those go on the heap. */
	const char **args =
	    argc > CACHE_MAX_ARGS ? malloc(((size_t)argc + 3) * sizeof *args) : small;
	if (!args)
		return NULL;
	if (c->cfg->redis_cluster_check_slots && cache_eval_slots_differ(s, nkeys, argv)) {
		if (args != small)
			free(args);
		return cache_error_reply("ERR flashsale: script keys span more than one slot");
	}
	cache_script_sha(s);
	snprintf(nk, sizeof nk, "%d", nkeys);
	args[0] = "EVALSHA";
	args[1] = s->sha;
	args[2] = nk;
	memcpy(args + 3, argv, (size_t)argc * sizeof *argv);
	redisReply *r = cache_commandv(c, argc + 3, args, NULL);
	if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
		freeReplyObject(r);
		args[0] = "EVAL";
		args[1] = s->src;
		r = cache_commandv(c, argc + 3, args, NULL);
	}
	if (args != small)
		free(args);
	return r;
}

int cache_is_cluster(const struct cache *c)
{
	return c->cl != NULL;
}

long long cache_wait(struct cache *c, const char *key, long n, long timeout_ms)
{
	char *cmd = NULL;
	int len = redisFormatCommand(&cmd, "WAIT %ld %ld", n, timeout_ms);
	if (len < 0)
		return -1;
	redisReply *r =
	    c->cl ? cache_cluster_on_slot(c->cl, cache_key_slot(key, strlen(key)), cmd, (size_t)len)
		  : cache_roundtrip(c, cmd, (size_t)len);
	redisFreeCommand(cmd);
	long long acked = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	if (r)
		freeReplyObject(r);
	return acked;
}

int cache_ping(struct cache *c)
{
	redisReply *r = cache_command(c, "PING");
	int ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

unsigned long cache_reconnects(const struct cache *c)
{
	if (c->cl)
		return cache_cluster_stats(c->cl).reconnects;
	if (c->pipe)
		return cache_pipe_stats(c->pipe).reconnects;
	return c->reconnects;
}

const char *cache_field(const redisReply *r, const char *name, size_t *len)
{
	if (!r || r->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    !strcmp(r->element[i]->str, name) &&
		    r->element[i + 1]->type == REDIS_REPLY_STRING) {
			if (len)
				*len = r->element[i + 1]->len;
			return r->element[i + 1]->str;
		}
	return NULL;
}
