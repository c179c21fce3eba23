/* cache.h - Redis: one persistent connection per process, reconnect, scripts by SHA. */
#ifndef FS_CACHE_H
#define FS_CACHE_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "config.h"

struct cache;

/* A Lua script called by SHA1 (computed locally), loaded on NOSCRIPT. */
struct cache_script {
	const char *src;
	char sha[41]; /* filled on first use */
	int ready;    /* sha is filled (atomic: threads share the script) */
};

/*
 * A handle for cfg's server; connects lazily, so it never fails for a dead server. With
 * [redis] cluster set, each command goes to the node owning its key's slot (cache-cluster.c);
 * NULL then only for a malformed node list.
 */
struct cache *cache_new(const struct fs_config *cfg);

/*
 * A handle every thread of the process may use at once: their commands go over one connection,
 * pipelined (cache-pipe.h). For commands that neither block nor depend on the connection's
 * state. The single server only: NULL with [redis] cluster set, or on ENOMEM.
 */
struct cache *cache_new_shared(const struct fs_config *cfg);

/* Close the connection. */
void cache_free(struct cache *c);

/*
 * Run a command (hiredis format). Returns a reply the caller frees with
 * freeReplyObject, or NULL when Redis is unreachable (answer 100005).
 * A reply of type REDIS_REPLY_ERROR is returned as is.
 */
redisReply *cache_command(struct cache *c, const char *fmt, ...);

/* Run a command given as an argument vector (lens may be NULL for C strings). */
redisReply *cache_commandv(struct cache *c, int argc, const char **argv, const size_t *lens);

/* EVALSHA script with nkeys keys then the rest of argv (any count) as ARGV; NOSCRIPT falls back to
 * EVAL. */
redisReply *cache_eval(struct cache *c, struct cache_script *s, int nkeys, int argc,
		       const char **argv);

/* 0 if Redis answers PING now, -1 otherwise. */
int cache_ping(struct cache *c);

/* 1 if c routes over a Redis Cluster ([redis] cluster set), 0 for the single server. */
int cache_is_cluster(const struct cache *c);

/*
 * WAIT n timeout_ms on the connection that serves key (the node owning its slot on a
 * cluster): the number of replicas that acknowledged every write so far, or -1 (unreachable).
 */
long long cache_wait(struct cache *c, const char *key, long n, long timeout_ms);

/*
 * The string value of field name in a flat [field, value, ...] reply (HGETALL, a stream
 * entry's fields), its length in *len if len is not NULL; NULL if r is NULL or not an array,
 * or the field is absent or not a string.
 */
const char *cache_field(const redisReply *r, const char *name, size_t *len);

/* Reconnects so far (for metrics). */
unsigned long cache_reconnects(const struct cache *c);

#endif
