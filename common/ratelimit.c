/* ratelimit.c - INCR + PEXPIRE in one script so a window always has an expiry. */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>

static struct cache_script rl_hit_script = {
    .src = "local n = redis.call('INCR', KEYS[1])\n"
	   "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end\n"
	   "local ttl = redis.call('TTL', KEYS[1])\n"
	   "if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end\n"
	   "return {n, ttl}\n",
};

static struct cache_script rl_peek_script = {
    .src = "return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('TTL', KEYS[1])}\n",
};

/* Seconds to wait, at least 1. */
static long rl_retry(long long ttl)
{
	return ttl > 0 ? (long)ttl : 1;
}

int ratelimit_hit(struct cache *c, const char *key, long limit, long window, long *retry_after)
{
	char w[24];
	snprintf(w, sizeof w, "%ld", window);
	const char *argv[] = {key, w};
	redisReply *r = cache_eval(c, &rl_hit_script, 1, 2, argv);
	int rc = RL_ERROR;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
		long long n = r->element[0]->integer;
		*retry_after = rl_retry(r->element[1]->integer);
		rc = n > limit ? RL_DENY : RL_ALLOW;
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

int ratelimit_check(struct cache *c, const char *key, long limit, long *retry_after)
{
	const char *argv[] = {key};
	redisReply *r = cache_eval(c, &rl_peek_script, 1, 1, argv);
	int rc = RL_ERROR;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
		*retry_after = rl_retry(r->element[1]->integer);
		rc = r->element[0]->integer >= limit ? RL_DENY : RL_ALLOW;
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

int ratelimit_reset(struct cache *c, const char *key)
{
	redisReply *r = cache_command(c, "DEL %s", key);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}
