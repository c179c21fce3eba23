/* lock.c - SET NX PX to take, a Lua compare-and-delete to release only one's own lock. */
#include "lock.h"

#include <stdio.h>
#include <string.h>

#include "ids.h"

/* Delete the key only if it still holds our token (another holder may own it after expiry). */
static struct cache_script lock_release_script = {
    .src = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
	   "  return redis.call('DEL', KEYS[1])\n"
	   "end\n"
	   "return 0\n",
};

int lock_acquire(struct cache *c, struct lock *l, const char *name, long ttl_ms)
{
	memset(l, 0, sizeof *l);
	snprintf(l->key, sizeof l->key, "fs:lock:%s", name);
	id_hex32(l->token);
	redisReply *r = cache_command(c, "SET %s %s NX PX %ld", l->key, l->token, ttl_ms);
	if (!r)
		return -1;
	int rc = r->type == REDIS_REPLY_STATUS ? 1 : r->type == REDIS_REPLY_NIL ? 0 : -1;
	freeReplyObject(r);
	l->held = rc == 1;
	return rc;
}

int lock_release(struct cache *c, struct lock *l)
{
	if (!l->held)
		return 0;
	const char *argv[] = {l->key, l->token};
	redisReply *r = cache_eval(c, &lock_release_script, 1, 2, argv);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	l->held = 0;
	return ok ? 0 : -1;
}
