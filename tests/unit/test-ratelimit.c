/* test-ratelimit.c - ratelimit.h against a real Redis: limits, windows, check, reset. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ratelimit.h"
#include "unit.h"

UNIT_REDIS_FIXTURE(cfg, cache, setup, teardown)

/* A key unique to this process and name, removed first. */
static const char *key(const char *name)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "fs:unittest:rl:%ld:%s", (long)getpid(), name);
	ck_assert_int_eq(ratelimit_reset(cache, buf), 0);
	return buf;
}

/* A limit of N in a window allows N hits, then denies with retry_after in 1..window. */
START_TEST(test_limit)
{
	const char *k = key("limit");
	long retry = -1;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ratelimit_hit(cache, k, 3, 10, &retry), RL_ALLOW);
	retry = -1;
	ck_assert_int_eq(ratelimit_hit(cache, k, 3, 10, &retry), RL_DENY);
	ck_assert_msg(retry >= 1 && retry <= 10, "retry_after %ld", retry);
	retry = -1;
	ck_assert_int_eq(ratelimit_hit(cache, k, 3, 10, &retry), RL_DENY);
	ck_assert_msg(retry >= 1 && retry <= 10, "retry_after %ld", retry);
	ratelimit_reset(cache, k);
}
END_TEST

/* The window key carries an expiry of the window length. */
START_TEST(test_window_ttl)
{
	const char *k = key("ttl");
	long retry;
	ck_assert_int_eq(ratelimit_hit(cache, k, 5, 30, &retry), RL_ALLOW);
	redisReply *r = cache_command(cache, "TTL %s", k);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	ck_assert_msg(r->integer >= 28 && r->integer <= 30, "ttl %lld", r->integer);
	freeReplyObject(r);
	ratelimit_reset(cache, k);
}
END_TEST

/* After the window ends, hits are allowed again. */
START_TEST(test_window_expires)
{
	const char *k = key("expire");
	long retry = -1;
	ck_assert_int_eq(ratelimit_hit(cache, k, 1, 1, &retry), RL_ALLOW);
	ck_assert_int_eq(ratelimit_hit(cache, k, 1, 1, &retry), RL_DENY);
	ck_assert_int_eq(retry, 1);
	unit_sleep_ms(2100);
	ck_assert_int_eq(ratelimit_hit(cache, k, 1, 1, &retry), RL_ALLOW);
	ratelimit_reset(cache, k);
}
END_TEST

/* check() does not count: any number of checks leaves all N hits allowed. */
START_TEST(test_check_does_not_count)
{
	const char *k = key("check");
	long retry = -1;
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(ratelimit_check(cache, k, 3, &retry), RL_ALLOW);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ratelimit_check(cache, k, 3, &retry), RL_ALLOW);
		ck_assert_int_eq(ratelimit_hit(cache, k, 3, 10, &retry), RL_ALLOW);
	}
	retry = -1;
	ck_assert_int_eq(ratelimit_check(cache, k, 3, &retry), RL_DENY);
	ck_assert_msg(retry >= 1 && retry <= 10, "retry_after %ld", retry);
	redisReply *r = cache_command(cache, "GET %s", k);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_str_eq(r->str, "3");
	freeReplyObject(r);
	ratelimit_reset(cache, k);
}
END_TEST

/* reset clears the counter: a denied key is allowed again. */
START_TEST(test_reset)
{
	const char *k = key("reset");
	long retry;
	ck_assert_int_eq(ratelimit_hit(cache, k, 1, 60, &retry), RL_ALLOW);
	ck_assert_int_eq(ratelimit_hit(cache, k, 1, 60, &retry), RL_DENY);
	ck_assert_int_eq(ratelimit_check(cache, k, 1, &retry), RL_DENY);
	ck_assert_int_eq(ratelimit_reset(cache, k), 0);
	ck_assert_int_eq(ratelimit_check(cache, k, 1, &retry), RL_ALLOW);
	ck_assert_int_eq(ratelimit_hit(cache, k, 1, 60, &retry), RL_ALLOW);
	ck_assert_int_eq(ratelimit_reset(cache, k), 0);
	ck_assert_int_eq(ratelimit_reset(cache, k), 0); /* resetting an absent key is fine */
}
END_TEST

/* Keys are independent. */
START_TEST(test_keys_independent)
{
	char a[128];
	long retry;
	snprintf(a, sizeof a, "%s", key("ka"));
	const char *b = key("kb");
	ck_assert_int_eq(ratelimit_hit(cache, a, 1, 60, &retry), RL_ALLOW);
	ck_assert_int_eq(ratelimit_hit(cache, a, 1, 60, &retry), RL_DENY);
	ck_assert_int_eq(ratelimit_hit(cache, b, 1, 60, &retry), RL_ALLOW);
	ratelimit_reset(cache, a);
	ratelimit_reset(cache, b);
}
END_TEST

/* With Redis unreachable every call reports RL_ERROR (the caller decides), never allow/deny. */
START_TEST(test_redis_down)
{
	struct fs_config dead;
	long retry;
	unit_config(&dead, "[redis]\nsocket = /nonexistent/fs-unit/redis.sock\n");
	struct cache *c = cache_new(&dead);
	ck_assert_int_eq(ratelimit_hit(c, "fs:unittest:rl:x", 1, 60, &retry), RL_ERROR);
	ck_assert_int_eq(ratelimit_check(c, "fs:unittest:rl:x", 1, &retry), RL_ERROR);
	ck_assert_int_eq(ratelimit_reset(c, "fs:unittest:rl:x"), -1);
	cache_free(c);
	config_free(&dead);
}
END_TEST

/* The suite of this file. */
static Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("redis");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_window_ttl);
	tcase_add_test(tc, test_window_expires);
	tcase_add_test(tc, test_check_does_not_count);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_keys_independent);
	tcase_add_test(tc, test_redis_down);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite, or skip without a Redis server. */
int main(void)
{
	unit_require("test-ratelimit", "FLASHSALE_TEST_REDIS_SOCKET");
	unit_clear_config_env();
	signal(SIGPIPE, SIG_IGN); /* as http_main does */
	return unit_status("test-ratelimit", unit_run(ratelimit_suite()), NULL);
}
