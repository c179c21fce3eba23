/* test-cache.c - cache.h against a real Redis: commands, scripts, breaker, reconnect. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "unit-cache.h"
#include "unit.h"

static struct fs_config cfg;

/* Load a config for the test Redis with a short breaker cooldown. */
static void setup(void)
{
	unit_redis_config(&cfg, 300);
}

/* Free the config. */
static void teardown(void)
{
	config_free(&cfg);
}

/* A key unique to this process and name. */
static const char *key(const char *name)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "fs:unittest:%ld:%s", (long)getpid(), name);
	return buf;
}

/* SET then GET returns the value; DEL removes it; PING answers. */
START_TEST(test_round_trip)
{
	struct cache *c = cache_new(&cfg);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(cache_ping(c), 0);
	redisReply *r = cache_command(c, "SET %s %s", key("a"), "hello world");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	r = cache_command(c, "GET %s", key("a"));
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_str_eq(r->str, "hello world");
	freeReplyObject(r);
	r = cache_command(c, "DEL %s", key("a"));
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	ck_assert_int_eq(r->integer, 1);
	freeReplyObject(r);
	r = cache_command(c, "GET %s", key("a"));
	ck_assert_int_eq(r->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	ck_assert_uint_eq(cache_reconnects(c), 1);
	cache_free(c);
}
END_TEST

/* The single server has no replica: WAIT 1 answers 0 once its timeout passed; not a cluster. */
START_TEST(test_wait_single)
{
	struct cache *c = cache_new(&cfg);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(cache_is_cluster(c), 0);
	ck_assert_int_eq(cache_wait(c, key("w"), 1, 20), 0);
	ck_assert_int_eq(cache_wait(c, key("w"), 0, 0), 0);
	cache_free(c);
}
END_TEST

/* cache_commandv is binary safe with explicit lengths. */
START_TEST(test_commandv_binary)
{
	struct cache *c = cache_new(&cfg);
	const char *set[] = {"SET", key("bin"), "a\0b"};
	size_t lens[] = {3, strlen(key("bin")), 3};
	redisReply *r = cache_commandv(c, 3, set, lens);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	const char *get[] = {"STRLEN", key("bin")};
	r = cache_commandv(c, 2, get, NULL);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	ck_assert_int_eq(r->integer, 3);
	freeReplyObject(r);
	const char *del[] = {"DEL", key("bin")};
	freeReplyObject(cache_commandv(c, 2, del, NULL));
	cache_free(c);
}
END_TEST

/* A Redis error reply comes back as a reply of type ERROR, not NULL. */
START_TEST(test_error_reply)
{
	struct cache *c = cache_new(&cfg);
	redisReply *r = cache_command(c, "SET %s notanumber", key("e"));
	freeReplyObject(r);
	r = cache_command(c, "INCR %s", key("e"));
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	r = cache_command(c, "NOSUCHCOMMAND");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	ck_assert_int_eq(cache_ping(c), 0); /* the connection survives errors */
	ck_assert_uint_eq(cache_reconnects(c), 1);
	freeReplyObject(cache_command(c, "DEL %s", key("e")));
	cache_free(c);
}
END_TEST

/* Run SCRIPT FLUSH on the test server. */
static void script_flush(struct cache *c)
{
	redisReply *r = cache_command(c, "SCRIPT FLUSH");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
}

/*
 * cache_eval: after SCRIPT FLUSH the first call falls back to EVAL (loading the script),
 * the next uses EVALSHA. Server-wide command counters would race with other test
 * programs, so the test swaps the source text under the cached SHA instead: EVALSHA
 * runs the old script, the EVAL fallback the new one.
 */
START_TEST(test_eval)
{
	static struct cache_script s = {
	    .src = "-- fs unit test script A\nreturn {KEYS[1], ARGV[1], tonumber(ARGV[2]) * 2}\n"};
	const char *src_b = "-- fs unit test script B\nreturn 'script B'\n";
	struct cache *c = cache_new(&cfg);
	const char *argv[] = {"k1", "v1", "21"};
	script_flush(c);

	redisReply *r = cache_eval(c, &s, 1, 3, argv);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(r->elements, 3);
	ck_assert_str_eq(r->element[0]->str, "k1");
	ck_assert_str_eq(r->element[1]->str, "v1");
	ck_assert_int_eq(r->element[2]->integer, 42);
	freeReplyObject(r);

	/* the fallback loaded the script under the SHA1 cache_eval computed */
	ck_assert_uint_eq(strlen(s.sha), 40);
	r = cache_command(c, "SCRIPT EXISTS %s", s.sha);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(r->element[0]->integer, 1);
	freeReplyObject(r);
	r = cache_command(c, "SCRIPT LOAD %s", s.src);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_str_eq(r->str, s.sha);
	freeReplyObject(r);

	/* second call: EVALSHA by the cached SHA runs script A although src now says B */
	s.src = src_b;
	r = cache_eval(c, &s, 1, 3, argv);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(r->type == REDIS_REPLY_ARRAY, "EVAL ran instead of EVALSHA");
	ck_assert_int_eq(r->element[2]->integer, 42);
	freeReplyObject(r);

	/* after another flush the SHA is unknown: NOSCRIPT, then EVAL of the current source */
	script_flush(c);
	r = cache_eval(c, &s, 1, 3, argv);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_str_eq(r->str, "script B");
	freeReplyObject(r);
	cache_free(c);
}
END_TEST

/* A script error is returned as an ERROR reply. */
START_TEST(test_eval_error)
{
	static struct cache_script s = {.src = "return redis.call('NOSUCHCOMMAND')\n"};
	struct cache *c = cache_new(&cfg);
	redisReply *r = cache_eval(c, &s, 0, 0, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	cache_free(c);
}
END_TEST

/* A dead socket fails fast, the breaker holds calls back for its cooldown, then one connects. */
START_TEST(test_dead_socket_and_breaker)
{
	unit_cache_dead_socket(cache_new);
}
END_TEST

/* After the server closes the connection (CLIENT KILL), the next command still works. */
START_TEST(test_reconnect_after_kill)
{
	struct cache *c = cache_new(&cfg);
	redisReply *r = cache_command(c, "SET %s before", key("k"));
	ck_assert_ptr_nonnull(r);
	freeReplyObject(r);
	ck_assert_uint_eq(cache_reconnects(c), 1);

	long long id = unit_cache_client_id(c);
	unit_cache_kill_client(cfg.redis_socket, id);

	r = cache_command(c, "GET %s", key("k"));
	ck_assert_msg(r != NULL, "command after CLIENT KILL failed");
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_str_eq(r->str, "before");
	freeReplyObject(r);
	ck_assert_uint_eq(cache_reconnects(c), 2);
	ck_assert_int_ne(unit_cache_client_id(c), id);
	freeReplyObject(cache_command(c, "DEL %s", key("k")));
	cache_free(c);
}
END_TEST

/* The same through cache_commandv. */
START_TEST(test_reconnect_after_kill_v)
{
	struct cache *c = cache_new(&cfg);
	unit_cache_kill_client(cfg.redis_socket, unit_cache_client_id(c));
	const char *argv[] = {"PING"};
	redisReply *r = cache_commandv(c, 1, argv, NULL);
	ck_assert_msg(r != NULL, "command after CLIENT KILL failed");
	ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	cache_free(c);
}
END_TEST

/*
 * redis.cluster_check_slots on one server: a script whose keys span cluster slots is refused
 * (and does not run); keys sharing a hash tag pass. Without the check one server runs both.
 */
START_TEST(test_slot_check_single)
{
	static struct cache_script s = {.src = "-- fs unit slot check\n"
					       "redis.call('SET', KEYS[1], 1, 'EX', 60)\n"
					       "return redis.call('SET', KEYS[2], 1, 'EX', 60)\n"};
	struct fs_config chk;
	char a[96], b[96], t1[96], t2[96];
	snprintf(a, sizeof a, "%s", key("slot-a"));
	snprintf(b, sizeof b, "%s", key("slot-b"));
	snprintf(t1, sizeof t1, "{fs:unittest:%ld}:1", (long)getpid());
	snprintf(t2, sizeof t2, "{fs:unittest:%ld}:2", (long)getpid());
	unit_config(&chk, "[redis]\nsocket = %s\ncluster_check_slots = 1\n", cfg.redis_socket);
	struct cache *c = cache_new(&chk), *plain = cache_new(&cfg);
	const char *span[] = {a, b}, *tagged[] = {t1, t2};
	redisReply *r = cache_eval(c, &s, 2, 2, span);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
	ck_assert_ptr_nonnull(strstr(r->str, "slot"));
	freeReplyObject(r);
	r = cache_command(c, "EXISTS %s", a);
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	r = cache_eval(c, &s, 2, 2, tagged);
	ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	r = cache_eval(plain, &s, 2, 2, span);
	ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	freeReplyObject(cache_command(c, "DEL %s %s %s %s", a, b, t1, t2));
	cache_free(c);
	cache_free(plain);
	config_free(&chk);
}
END_TEST

/* The suite of this file. */
static Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("redis");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_commandv_binary);
	tcase_add_test(tc, test_error_reply);
	tcase_add_test(tc, test_eval);
	tcase_add_test(tc, test_eval_error);
	tcase_add_test(tc, test_dead_socket_and_breaker);
	tcase_add_test(tc, test_reconnect_after_kill);
	tcase_add_test(tc, test_reconnect_after_kill_v);
	tcase_add_test(tc, test_slot_check_single);
	tcase_add_test(tc, test_wait_single);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite, or skip without a Redis server. */
int main(void)
{
	unit_require("test-cache", "FLASHSALE_TEST_REDIS_SOCKET");
	unit_clear_config_env();
	signal(SIGPIPE, SIG_IGN); /* as http_main does: a write to a closed socket must not kill */
	return unit_status("test-cache", unit_run(cache_suite()), NULL);
}
