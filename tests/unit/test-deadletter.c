/*
 * test-deadletter.c - event.h: an event its handler keeps refusing goes to the topic's
 * dead-letter stream after events.max_deliveries, and the events behind it flow (Redis
 * transport, against the test Redis).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "event.h"
#include "log.h"
#include "unit.h"

static struct fs_config cfg;
static struct cache *cache;

/* What the handler saw: calls per key; it refuses "poison" and stops at "last". */
struct seen {
	int poison, last;
	volatile sig_atomic_t stop;
};

/* Refuse the poison event always; accept the others and stop after "last". */
static int handler(void *ctx, const char *topic, const char *key, json_t *payload)
{
	struct seen *s = ctx;
	(void)topic;
	(void)payload;
	if (!strcmp(key, "poison")) {
		s->poison++;
		return -1;
	}
	if (!strcmp(key, "last")) {
		s->last++;
		s->stop = 1;
	}
	return 0;
}

/* An integer reply of a one-argument Redis command. */
static long long redis_int(const char *fmt, const char *arg)
{
	redisReply *r = cache_command(cache, fmt, arg);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	long long v = r->integer;
	freeReplyObject(r);
	return v;
}

/* Config for the test Redis: three deliveries, then the dead-letter stream. */
static void setup(void)
{
	unit_config(&cfg, "[redis]\nsocket = %s\n[events]\nmax_deliveries = 3\n",
		    unit_env("FLASHSALE_TEST_REDIS_SOCKET"));
	cache = cache_new(&cfg);
}

/* Free the cache and config. */
static void teardown(void)
{
	cache_free(cache);
	config_free(&cfg);
}

START_TEST(test_refused_event_is_dead_lettered_once)
{
	char topic[64], skey[96], dkey[96];
	snprintf(topic, sizeof topic, "unit.%ld.dead", (long)getpid());
	snprintf(skey, sizeof skey, "fs:ev:%s", topic);
	ck_assert_int_eq(event_dead_key(dkey, sizeof dkey, topic), 0);
	struct event_bus *bus = event_bus_new(&cfg, cache);
	ck_assert_ptr_nonnull(bus);
	json_t *p = json_pack("{s:i}", "v", 1);
	ck_assert_int_eq(event_publish(bus, topic, "poison", p), 0);
	ck_assert_int_eq(event_publish(bus, topic, "last", p), 0);
	json_decref(p);

	struct seen s = {0};
	ck_assert_int_eq(event_consume(bus, "g", topic, handler, &s, &s.stop), 0);
	ck_assert_int_eq(s.poison, 3); /* max_deliveries, not forever */
	ck_assert_int_eq(s.last, 1);   /* the event behind it was handled */
	ck_assert_int_eq(redis_int("XLEN %s", dkey), 1);
	redisReply *r = cache_command(cache, "XPENDING %s g", skey);
	ck_assert_int_eq(r->element[0]->integer, 0); /* both acknowledged */
	freeReplyObject(r);
	r = cache_command(cache, "XRANGE %s - +", dkey);
	ck_assert_int_eq(r->elements, 1);
	redisReply *f = r->element[0]->element[1];
	ck_assert_str_eq(f->element[0]->str, "key");
	ck_assert_str_eq(f->element[1]->str, "poison");
	ck_assert_str_eq(f->element[3]->str, "{\"v\":1}");
	freeReplyObject(r);
	r = cache_command(cache, "SISMEMBER %s %s", EVENT_DEAD_SET, topic);
	ck_assert_int_eq(r->integer, 1);
	freeReplyObject(r);
	r = cache_command(cache, "SREM %s %s", EVENT_DEAD_SET, topic);
	freeReplyObject(r);
	redis_int("DEL %s", skey);
	redis_int("DEL %s", dkey);
	event_bus_free(bus);
}
END_TEST

/* Run the suite; without a test Redis the program is skipped. */
int main(void)
{
	unit_clear_config_env();
	if (!unit_env("FLASHSALE_TEST_REDIS_SOCKET"))
		return unit_status("test-deadletter", 0, "FLASHSALE_TEST_REDIS_SOCKET is not set");
	signal(SIGPIPE, SIG_IGN);
	log_open("test-deadletter", "", "error");
	Suite *s = suite_create("deadletter");
	TCase *tc = tcase_create("redis");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_refused_event_is_dead_lettered_once);
	suite_add_tcase(s, tc);
	return unit_status("test-deadletter", unit_run(s), NULL);
}
