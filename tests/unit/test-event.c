/*
 * test-event.c - event.h: the Redis Streams transport against a real Redis
 * (publish/consume, redelivery, claiming a dead consumer's entries, trimming,
 * bad input) and the Kafka transport against librdkafka's in-process mock
 * cluster (idempotent delivery reports, group consume and commit, retry).
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "event.h"
#include "kafka.h"
#include "log.h"
#include "unit.h"

static struct fs_config cfg;
static struct cache *cache;

/* What a test handler saw. */
struct seen {
	int n, want, fail_first; /* stop after want; answer -1 to the first fail_first calls */
	int calls;
	char keys[16][64];
	long long vals[16];
	volatile sig_atomic_t stop;
};

/* Record one event; stop after s->want. */
static int record(void *ctx, const char *topic, const char *key, json_t *payload)
{
	struct seen *s = ctx;
	(void)topic;
	if (s->calls++ < s->fail_first)
		return -1;
	if (s->n < 16) {
		snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
		s->vals[s->n] = json_integer_value(json_object_get(payload, "v"));
	}
	if (++s->n >= s->want)
		s->stop = 1;
	return 0;
}

/* A topic unique to this process and name. */
static const char *topic(const char *name)
{
	static char buf[96];
	snprintf(buf, sizeof buf, "unit.%ld.%s", (long)getpid(), name);
	return buf;
}

/* Publish {"v": v} under key; asserts success. */
static void pub(struct event_bus *bus, const char *t, const char *key, long long v)
{
	json_t *p = json_pack("{s:I}", "v", (json_int_t)v);
	ck_assert_int_eq(event_publish(bus, t, key, p), 0);
	json_decref(p);
}

/* An integer reply of a Redis command. */
static long long redis_int(const char *fmt, const char *arg)
{
	redisReply *r = cache_command(cache, fmt, arg);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	long long v = r->integer;
	freeReplyObject(r);
	return v;
}

/* Config for the test Redis; claim entries idle for 200 ms, keep streams near 100. */
static void redis_setup(void)
{
	unit_config(&cfg,
		    "[redis]\nsocket = %s\n%s[events]\nclaim_idle_ms = 200\nstream_maxlen = 100\n",
		    unit_env("FLASHSALE_TEST_REDIS_SOCKET"), unit_redis_cluster_ini());
	cache = cache_new(&cfg);
}

/* Free the cache and config. */
static void redis_teardown(void)
{
	cache_free(cache);
	config_free(&cfg);
}

START_TEST(test_redis_round_trip)
{
	struct event_bus *bus = event_bus_new(&cfg, cache);
	ck_assert_ptr_nonnull(bus);
	const char *t = topic("rt");
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		pub(bus, t, key, i * 10);
	}
	struct seen s = {.want = 5};
	ck_assert_int_eq(event_consume(bus, "g", t, record, &s, &s.stop), 0);
	ck_assert_int_eq(s.n, 5);
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		ck_assert_str_eq(s.keys[i], key);
		ck_assert_int_eq(s.vals[i], i * 10);
	}
	/* all acknowledged; a second group sees the whole stream from its start */
	char skey[128];
	snprintf(skey, sizeof skey, "fs:ev:%s", t);
	redisReply *r = cache_command(cache, "XPENDING %s g", skey);
	ck_assert_int_eq(r->element[0]->integer, 0);
	freeReplyObject(r);
	struct seen s2 = {.want = 5};
	ck_assert_int_eq(event_consume(bus, "other", t, record, &s2, &s2.stop), 0);
	ck_assert_int_eq(s2.vals[4], 40);
	redis_int("DEL %s", skey);
	event_bus_free(bus);
}
END_TEST

START_TEST(test_redis_failed_handler_sees_it_again)
{
	struct event_bus *bus = event_bus_new(&cfg, cache);
	const char *t = topic("retry");
	pub(bus, t, "a", 1);
	pub(bus, t, "b", 2);
	struct seen s = {.want = 2, .fail_first = 2};
	ck_assert_int_eq(event_consume(bus, "g", t, record, &s, &s.stop), 0);
	/* "a" failed twice, then came back before "b": order is kept */
	ck_assert_int_eq(s.calls, 4);
	ck_assert_str_eq(s.keys[0], "a");
	ck_assert_str_eq(s.keys[1], "b");
	char skey[128];
	snprintf(skey, sizeof skey, "fs:ev:%s", t);
	redis_int("DEL %s", skey);
	event_bus_free(bus);
}
END_TEST

START_TEST(test_redis_claims_dead_consumers_entries)
{
	struct event_bus *bus = event_bus_new(&cfg, cache);
	const char *t = topic("claim");
	char skey[128];
	snprintf(skey, sizeof skey, "fs:ev:%s", t);
	redisReply *r = cache_command(cache, "XGROUP CREATE %s g 0 MKSTREAM", skey);
	freeReplyObject(r);
	pub(bus, t, "lost", 7);
	/* a consumer reads it and dies without XACK */
	r = cache_command(cache, "XREADGROUP GROUP g dead COUNT 10 STREAMS %s >", skey);
	ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
	freeReplyObject(r);
	unit_sleep_ms(300);
	struct seen s = {.want = 1};
	ck_assert_int_eq(event_consume(bus, "g", t, record, &s, &s.stop), 0);
	ck_assert_str_eq(s.keys[0], "lost");
	ck_assert_int_eq(s.vals[0], 7);
	r = cache_command(cache, "XPENDING %s g", skey);
	ck_assert_int_eq(r->element[0]->integer, 0);
	freeReplyObject(r);
	redis_int("DEL %s", skey);
	event_bus_free(bus);
}
END_TEST

START_TEST(test_redis_trims_and_refuses_bad_input)
{
	struct event_bus *bus = event_bus_new(&cfg, cache);
	const char *t = topic("trim");
	char skey[128];
	snprintf(skey, sizeof skey, "fs:ev:%s", t);
	for (int i = 0; i < 500; i++)
		pub(bus, t, "k", i);
	/* MAXLEN ~ 100 trims whole macro nodes: well under what was written */
	ck_assert_int_lt(redis_int("XLEN %s", skey), 300);
	json_t *p = json_pack("{s:i}", "v", 1);
	json_t *arr = json_array();
	ck_assert_int_eq(event_publish(bus, "bad topic", "k", p), -1);
	ck_assert_int_eq(event_publish(bus, "", "k", p), -1);
	ck_assert_int_eq(event_publish(bus, t, "k", arr), -1);
	ck_assert_int_eq(event_publish(NULL, t, "k", p), -1);
	struct seen s = {.want = 1};
	ck_assert_int_eq(event_consume(bus, "g:x", t, record, &s, &s.stop), -1);
	ck_assert_int_eq(s.calls, 0);
	json_decref(p);
	json_decref(arr);
	redis_int("DEL %s", skey);
	event_bus_free(bus);
}
END_TEST

START_TEST(test_redis_down_publish_fails)
{
	struct fs_config dead;
	unit_config(&dead, "[redis]\nsocket = /nonexistent/redis.sock\n");
	struct cache *c = cache_new(&dead);
	struct event_bus *bus = event_bus_new(&dead, c);
	json_t *p = json_pack("{s:i}", "v", 1);
	ck_assert_int_eq(event_publish(bus, "unit.down", "k", p), -1);
	json_decref(p);
	event_bus_free(bus);
	cache_free(c);
	config_free(&dead);
}
END_TEST

START_TEST(test_bus_config_checked)
{
	struct fs_config c;
	unit_config(&c, "[events]\ntransport = carrier-pigeon\n");
	ck_assert_ptr_null(event_bus_new(&c, (struct cache *)&c));
	config_free(&c);
	unit_config(&c, "[events]\ntransport = kafka\n");
	ck_assert_ptr_null(event_bus_new(&c, NULL)); /* no brokers */
	config_free(&c);
	unit_config(&c, "[events]\ntransport = redis\n");
	ck_assert_ptr_null(event_bus_new(&c, NULL)); /* no Redis handle */
	config_free(&c);
}
END_TEST

/* The mock cluster of the Kafka tests and the client that owns it. */
static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;

/* Start a 1-broker mock cluster with topic t (2 partitions) and a config pointing at it. */
static void kafka_start(const char *t)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err); /* it connects nowhere */
	mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	ck_assert_ptr_nonnull(mock_rk);
	mock = rd_kafka_mock_cluster_new(mock_rk, 1);
	ck_assert_ptr_nonnull(mock);
	ck_assert_int_eq(rd_kafka_mock_topic_create(mock, t, 2, 1), 0);
	unit_config(&cfg,
		    "[events]\ntransport = kafka\nkafka_brokers = %s\nkafka_timeout_ms = 5000\n",
		    rd_kafka_mock_cluster_bootstraps(mock));
}

/* Stop the mock cluster. */
static void kafka_stop(void)
{
	rd_kafka_mock_cluster_destroy(mock);
	rd_kafka_destroy(mock_rk);
	config_free(&cfg);
}

START_TEST(test_kafka_round_trip_and_retry)
{
	const char *t = "unit.kafka";
	kafka_start(t);
	struct event_bus *bus = event_bus_new(&cfg, NULL);
	ck_assert_ptr_nonnull(bus);
	/* one key: one partition, so the order is kept */
	for (int i = 1; i <= 3; i++)
		pub(bus, t, "ORD1", i);
	struct seen s = {.want = 3, .fail_first = 1};
	ck_assert_int_eq(event_consume(bus, "g", t, record, &s, &s.stop), 0);
	ck_assert_int_eq(s.n, 3);
	ck_assert_int_eq(s.calls, 4); /* the first one was seen again after its failure */
	ck_assert_int_eq(s.vals[0], 1);
	ck_assert_int_eq(s.vals[2], 3);
	ck_assert_str_eq(s.keys[0], "ORD1");
	/* committed: the group resumes after what it processed */
	pub(bus, t, "ORD1", 4);
	struct seen s2 = {.want = 1};
	ck_assert_int_eq(event_consume(bus, "g", t, record, &s2, &s2.stop), 0);
	ck_assert_int_eq(s2.vals[0], 4);
	event_bus_free(bus);
	kafka_stop();
}
END_TEST

START_TEST(test_kafka_publish_fails_when_brokers_are_down)
{
	const char *t = "unit.kafka.down";
	kafka_start(t);
	rd_kafka_mock_broker_set_down(mock, 1);
	struct event_bus *bus = event_bus_new(&cfg, NULL);
	json_t *p = json_pack("{s:i}", "v", 1);
	long long t0 = unit_now_ms();
	ck_assert_int_eq(event_publish(bus, t, "k", p), -1);
	ck_assert_int_lt(unit_now_ms() - t0, 15000);
	json_decref(p);
	event_bus_free(bus);
	kafka_stop();
}
END_TEST

START_TEST(test_kafka_group_lag_per_partition)
{
	const char *t = "unit.kafka.lag";
	struct kafka_lag lag;
	kafka_start(t);
	struct event_bus *bus = event_bus_new(&cfg, NULL);
	rd_kafka_t *rk = kafka_lag_client(&cfg, "lagging"); /* kept, as the relay keeps it */
	ck_assert_ptr_nonnull(rk);
	const char *keys[] = {"A1", "B2", "C3", "D4", "E5", "F6"};
	for (int i = 0; i < 6; i++)
		pub(bus, t, keys[i], i);
	/* nothing committed: all six, split over the topic's two partitions */
	ck_assert_int_eq(kafka_lag_query(rk, t, 5000, NULL, &lag), 0);
	ck_assert_int_eq(lag.total, 6);
	ck_assert_int_eq(lag.n, 2);
	ck_assert_int_eq(lag.count, 2);
	ck_assert_int_eq(lag.part[0] + lag.part[1], 6);
	long long total = -1;
	ck_assert_int_eq(kafka_group_lag(&cfg, "lagging", t, NULL, &total), 0);
	ck_assert_int_eq(total, 6);
	/* the group consumes and commits all six: the same client sees the lag at 0 */
	struct seen s = {.want = 6};
	ck_assert_int_eq(event_consume(bus, "lagging", t, record, &s, &s.stop), 0);
	ck_assert_int_eq(kafka_lag_query(rk, t, 5000, NULL, &lag), 0);
	ck_assert_int_eq(lag.total, 0);
	ck_assert_int_eq(lag.part[0] + lag.part[1], 0);
	rd_kafka_destroy(rk);
	event_bus_free(bus);
	kafka_stop();
}
END_TEST

/* The suite; the Redis case only with a test Redis. */
static Suite *event_suite(int with_redis)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, test_bus_config_checked);
	suite_add_tcase(s, tc);
	if (with_redis) {
		tc = tcase_create("redis");
		tcase_add_checked_fixture(tc, redis_setup, redis_teardown);
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, test_redis_round_trip);
		tcase_add_test(tc, test_redis_failed_handler_sees_it_again);
		tcase_add_test(tc, test_redis_claims_dead_consumers_entries);
		tcase_add_test(tc, test_redis_trims_and_refuses_bad_input);
		tcase_add_test(tc, test_redis_down_publish_fails);
		suite_add_tcase(s, tc);
	}
	tc = tcase_create("kafka");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_kafka_round_trip_and_retry);
	tcase_add_test(tc, test_kafka_publish_fails_when_brokers_are_down);
	tcase_add_test(tc, test_kafka_group_lag_per_partition);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; without a test Redis its Redis case is skipped (and so the program). */
int main(void)
{
	unit_clear_config_env();
	int with_redis = unit_env("FLASHSALE_TEST_REDIS_SOCKET") != NULL;
	signal(SIGPIPE, SIG_IGN);
	log_open("test-event", "", "error");
	return unit_status("test-event", unit_run(event_suite(with_redis)),
			   with_redis ? NULL : "FLASHSALE_TEST_REDIS_SOCKET is not set");
}
