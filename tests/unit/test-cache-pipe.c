/* test-cache-pipe.c - cache_new_shared against a real Redis: threads' commands pipelined. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache-pipe.h"
#include "cache.h"
#include "unit-cache.h"
#include "unit.h"

#define THREADS 8
#define ROUNDS  300

static struct fs_config cfg;

/* Echo ARGV[1], so each caller can tell its own reply from the others'. */
static struct cache_script echo = {.src = "return ARGV[1]"};

/* Busy for ARGV[1] ms inside Redis: every command sent meanwhile queues behind it. */
static struct cache_script busy = {
    .src = "local t = redis.call('TIME') local t0 = t[1] * 1000 + t[2] / 1000 "
	   "repeat t = redis.call('TIME') until t[1] * 1000 + t[2] / 1000 - t0 >= "
	   "tonumber(ARGV[1]) return 'done'"};

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

/* One caller thread: its handle and its number; wrong counts the replies not its own. */
struct caller {
	struct cache *c;
	int n, wrong;
	pthread_t tid;
};

/* ROUNDS echoes of strings only this thread sends. */
static void *caller_main(void *arg)
{
	struct caller *t = arg;
	for (int k = 0; k < ROUNDS; k++) {
		char want[64];
		snprintf(want, sizeof want, "thread %d round %d", t->n, k);
		const char *argv[] = {want};
		redisReply *r = cache_eval(t->c, &echo, 0, 1, argv);
		if (!r || r->type != REDIS_REPLY_STRING || strcmp(r->str, want))
			t->wrong++;
		if (r)
			freeReplyObject(r);
	}
	return NULL;
}

/* Threads hammering one shared handle each get their own replies, some of them in batches. */
START_TEST(test_own_replies)
{
	struct cache *c = cache_new_shared(&cfg);
	ck_assert_ptr_nonnull(c);
	struct caller t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct caller){.c = c, .n = i};
		ck_assert_int_eq(pthread_create(&t[i].tid, NULL, caller_main, &t[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i].tid, NULL);
		ck_assert_msg(t[i].wrong == 0, "thread %d: %d replies wrong", i, t[i].wrong);
	}
	struct cache_pipe_stats st = cache_pipe_stats(cache_pipe_of(c));
	/* The first EVALSHA of the script may meet NOSCRIPT and be sent again as EVAL. */
	ck_assert_uint_ge(st.commands, THREADS * ROUNDS);
	ck_assert_uint_le(st.commands, THREADS * ROUNDS + THREADS);
	ck_assert_uint_lt(st.batches, st.commands);
	ck_assert_uint_eq(st.reconnects, 1);
	cache_free(c);
}
END_TEST

/* A thread waiting on a slow script. */
static void *busy_main(void *arg)
{
	struct caller *t = arg;
	const char *argv[] = {"300"};
	redisReply *r = cache_eval(t->c, &busy, 0, 1, argv);
	t->wrong = !r || r->type != REDIS_REPLY_STRING || strcmp(r->str, "done");
	if (r)
		freeReplyObject(r);
	return NULL;
}

/* One echo: what caller_main does, once. */
static void *once_main(void *arg)
{
	struct caller *t = arg;
	char want[32];
	snprintf(want, sizeof want, "once %d", t->n);
	const char *argv[] = {want};
	redisReply *r = cache_eval(t->c, &echo, 0, 1, argv);
	t->wrong = !r || r->type != REDIS_REPLY_STRING || strcmp(r->str, want);
	if (r)
		freeReplyObject(r);
	return NULL;
}

/* Commands sent while another is on the connection wait and go together: one batch. */
START_TEST(test_queued_commands_go_in_one_batch)
{
	struct cache *c = cache_new_shared(&cfg);
	ck_assert_ptr_nonnull(c);
	/* Load both scripts first, so no NOSCRIPT round trip counts below. */
	ck_assert_int_eq(cache_ping(c), 0);
	const char *a[] = {"0"}, *e[] = {"x"};
	freeReplyObject(cache_eval(c, &busy, 0, 1, a));
	freeReplyObject(cache_eval(c, &echo, 0, 1, e));
	struct cache_pipe_stats st0 = cache_pipe_stats(cache_pipe_of(c));

	struct caller lead = {.c = c}, t[THREADS - 1];
	ck_assert_int_eq(pthread_create(&lead.tid, NULL, busy_main, &lead), 0);
	unit_sleep_ms(60); /* the busy script is on the connection */
	for (int i = 0; i < THREADS - 1; i++) {
		t[i] = (struct caller){.c = c, .n = i};
		ck_assert_int_eq(pthread_create(&t[i].tid, NULL, once_main, &t[i]), 0);
	}
	pthread_join(lead.tid, NULL);
	ck_assert_msg(!lead.wrong, "the busy script's reply is wrong");
	for (int i = 0; i < THREADS - 1; i++) {
		pthread_join(t[i].tid, NULL);
		ck_assert_msg(!t[i].wrong, "thread %d's reply is wrong", i);
	}
	struct cache_pipe_stats st = cache_pipe_stats(cache_pipe_of(c));
	ck_assert_uint_eq(st.commands - st0.commands, THREADS);
	ck_assert_uint_eq(st.batches - st0.batches, 2);
	cache_free(c);
}
END_TEST

/* The shared connection killed (a restarted server): the next command reconnects and runs. */
START_TEST(test_reconnect_after_kill)
{
	struct cache *c = cache_new_shared(&cfg);
	ck_assert_ptr_nonnull(c);
	unit_cache_kill_client(cfg.redis_socket, unit_cache_client_id(c));
	ck_assert_int_eq(cache_ping(c), 0);
	ck_assert_uint_eq(cache_reconnects(c), 2);
	cache_free(c);
}
END_TEST

/* A dead socket fails fast, the breaker holds calls back for its cooldown, then one connects. */
START_TEST(test_dead_socket)
{
	unit_cache_dead_socket(cache_new_shared);
}
END_TEST

/* A cluster config has no shared handle: the caller keeps its per-thread one. */
START_TEST(test_none_on_cluster)
{
	struct fs_config cl;
	unit_config(&cl, "[redis]\ncluster = 127.0.0.1:1\n");
	ck_assert_ptr_null(cache_new_shared(&cl));
	config_free(&cl);
}
END_TEST

/* The suite of this file. */
static Suite *pipe_suite(void)
{
	Suite *s = suite_create("cache-pipe");
	TCase *tc = tcase_create("redis");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_own_replies);
	tcase_add_test(tc, test_queued_commands_go_in_one_batch);
	tcase_add_test(tc, test_reconnect_after_kill);
	tcase_add_test(tc, test_dead_socket);
	tcase_add_test(tc, test_none_on_cluster);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite, or skip without a Redis server. */
int main(void)
{
	unit_require("test-cache-pipe", "FLASHSALE_TEST_REDIS_SOCKET");
	unit_clear_config_env();
	signal(SIGPIPE, SIG_IGN);
	return unit_status("test-cache-pipe", unit_run(pipe_suite()), NULL);
}
