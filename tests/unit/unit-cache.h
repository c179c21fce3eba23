/* unit-cache.h - what the cache suites (per-thread and shared handles) check alike. */
#ifndef FS_UNIT_CACHE_H
#define FS_UNIT_CACHE_H

#include <sys/stat.h>

#include "cache.h"
#include "unit.h"

/* The id of the handle's current connection (CLIENT ID). */
static inline long long unit_cache_client_id(struct cache *c)
{
	redisReply *r = cache_command(c, "CLIENT ID");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	long long id = r->integer;
	freeReplyObject(r);
	return id;
}

/*
 * Close connection id of the server at sock from a second context, as a server restart or
 * idle timeout would. CLIENT KILL ID rather than TYPE normal: other test programs share the
 * server under make -j.
 */
static inline void unit_cache_kill_client(const char *sock, long long id)
{
	redisContext *other = redisConnectUnix(sock);
	ck_assert(other && !other->err);
	redisReply *r = redisCommand(other, "CLIENT KILL ID %lld", id);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	ck_assert_int_eq(r->integer, 1);
	freeReplyObject(r);
	redisFree(other);
	unit_sleep_ms(50);
}

/*
 * A handle made by make for a socket that is not there fails fast; during the cooldown the
 * breaker answers NULL without trying (the path then leads to the live test server, which a try
 * would reach); after it, a try succeeds.
 */
static inline void unit_cache_dead_socket(struct cache *(*make)(const struct fs_config *))
{
	char dir[] = "/tmp/fs-unit-cache-XXXXXX", sock[128];
	struct fs_config dead;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/redis.sock", dir);
	unit_config(&dead, "[redis]\nsocket = %s\n[breaker]\ncooldown_ms = 500\n", sock);
	struct cache *c = make(&dead);
	ck_assert_ptr_nonnull(c);

	long long t0 = unit_now_ms();
	redisReply *r = cache_command(c, "PING");
	long long t1 = unit_now_ms();
	ck_assert_ptr_null(r);
	ck_assert_msg(t1 - t0 < 200, "dead socket took %lld ms", t1 - t0);

	ck_assert_int_eq(symlink(unit_env("FLASHSALE_TEST_REDIS_SOCKET"), sock), 0);
	r = cache_command(c, "PING");
	long long t2 = unit_now_ms();
	ck_assert_msg(r == NULL, "breaker did not hold the call back");
	ck_assert_int_eq(cache_ping(c), -1);
	ck_assert_uint_eq(cache_reconnects(c), 0);
	ck_assert_msg(t2 - t1 < 300, "breaker answered after %lld ms", t2 - t1);

	unit_sleep_ms(600);
	ck_assert_int_eq(cache_ping(c), 0);
	ck_assert_uint_eq(cache_reconnects(c), 1);
	cache_free(c);
	unlink(sock);
	rmdir(dir);
	config_free(&dead);
}

#endif
