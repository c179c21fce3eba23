/*
 * writer-lag.c - the order-writer's lag as gauges of /seckill/v1/metrics, read at scrape time.
 *
 * Two parts: the intents streams in Redis (every transport: on kafka they are the relay's
 * backlog), and with writer.transport kafka the writers' consumer-group lag on the topic, which
 * the relay measures (kafka_lag_query) and publishes in Redis each second (seckill_kafka_lag),
 * so this program asks no Kafka cluster. flashsale_orderwriter_backlog is their sum.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.h"
#include "log.h"
#include "metrics.h"
#include "seckill.h"

/*
 * One activity's intents stream: entries waiting (XLEN: the writer deletes what it wrote),
 * entries read but not acknowledged (XPENDING), and the time of the oldest entry in ms
 * (stream ids start with their time). Read-only. KEYS: intents. ARGV: group.
 */
static struct cache_script writer_lag_script = {
    .src = "local p = redis.pcall('XPENDING', KEYS[1], ARGV[1])\n"
	   "local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)\n"
	   "local ms = 0\n"
	   "if first[1] then ms = tonumber(string.match(first[1][1], '^(%d+)')) end\n"
	   "return {redis.call('XLEN', KEYS[1]), type(p) == 'table' and p[1] or 0, ms}\n"};

/* Gauge slots, defined once per worker. */
static int lag_backlog = -1, lag_pending = -1, lag_oldest = -1, lag_guard = -1, lag_defined;
static int lag_stream = -1, lag_kafka = -1, lag_kafka_age = -1;

/* The most a published Kafka lag may take (the relay's JSON of up to 256 partitions). */
#define KAFKA_LAG_VALUE_MAX 16384

/* The ids in the live set (a new array of *n), or NULL when Redis is down. */
static long long *writer_lag_live(struct app *app, size_t *n)
{
	redisReply *r = cache_command(app->cache, "SMEMBERS %s", ACTIVITY_LIVE_KEY);
	long long *ids =
	    r && r->type == REDIS_REPLY_ARRAY ? calloc(r->elements + 1, sizeof *ids) : NULL;
	*n = 0;
	for (size_t i = 0; ids && i < r->elements; i++) {
		char *end;
		long long id = r->element[i]->type == REDIS_REPLY_STRING
				   ? strtoll(r->element[i]->str, &end, 10)
				   : 0;
		if (id > 0 && !*end)
			ids[(*n)++] = id;
	}
	if (r)
		freeReplyObject(r);
	return ids;
}

/* Sum the lag of every live stream into the gauges, the entries waiting into *backlog. 0 or -1. */
static int writer_lag_streams(struct app *app, long long *backlog)
{
	size_t n;
	long long len = 0, pending = 0, oldest = 0;
	long long *ids = writer_lag_live(app, &n);
	int rc = ids ? 0 : -1;
	for (size_t i = 0; ids && i < n; i++) {
		char key[ACTIVITY_KEY_MAX];
		activity_key(key, sizeof key, ids[i], AK_INTENTS, NULL);
		const char *argv[] = {key, ACTIVITY_GROUP};
		redisReply *r = cache_eval(app->cache, &writer_lag_script, 1, 2, argv);
		if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
			len += r->element[0]->integer;
			pending += r->element[1]->integer;
			long long ms = r->element[2]->integer;
			if (ms > 0 && (oldest == 0 || ms < oldest))
				oldest = ms;
		} else {
			rc = -1;
		}
		if (r)
			freeReplyObject(r);
	}
	free(ids);
	if (rc)
		return rc;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	*backlog = len;
	metrics_set(lag_stream, len);
	metrics_set(lag_pending, pending);
	metrics_set(lag_oldest, oldest > 0 && now_ms > oldest ? now_ms - oldest : 0);
	return 0;
}

/* The writer's guard refusals, counted in Redis by the writer (ACTIVITY_GUARD_KEY). */
static void writer_lag_guard(struct app *app)
{
	redisReply *r = cache_command(app->cache, "GET %s", ACTIVITY_GUARD_KEY);
	if (r && r->type == REDIS_REPLY_STRING)
		metrics_set(lag_guard, strtoll(r->str, NULL, 10));
	else if (r && r->type == REDIS_REPLY_NIL)
		metrics_set(lag_guard, 0); /* never refused (or Redis lost the count) */
	if (r)
		freeReplyObject(r);
}

int seckill_kafka_lag(struct app *app, struct seckill_kafka_lag *k)
{
	struct timespec ts;
	int rc = -1;
	memset(k, 0, sizeof *k);
	redisReply *r = cache_command(app->cache, "GET %s", ACTIVITY_KAFKA_LAG_KEY);
	if (r && r->type == REDIS_REPLY_NIL)
		rc = 0;
	if (!r || r->type != REDIS_REPLY_STRING || r->len > KAFKA_LAG_VALUE_MAX)
		goto out;
	json_t *v = json_loadb(r->str, r->len, 0, NULL);
	json_t *lag = json_object_get(v, "lag"), *at = json_object_get(v, "at");
	json_t *parts = json_object_get(v, "partitions");
	if (json_is_integer(lag) && json_integer_value(lag) >= 0 && json_is_integer(at) &&
	    json_is_array(parts)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		k->lag = json_integer_value(lag);
		k->age_ms = now_ms > json_integer_value(at) ? now_ms - json_integer_value(at) : 0;
		k->partitions = json_incref(parts);
		rc = 1;
	}
	json_decref(v);
out:
	if (rc < 0)
		log_warn("writer lag: %s unreadable", ACTIVITY_KAFKA_LAG_KEY);
	if (r)
		freeReplyObject(r);
	return rc;
}

/* The Kafka part into its gauges; what it adds to the backlog (0 when none or unknown). */
static long long writer_lag_kafka(struct app *app)
{
	struct seckill_kafka_lag k;
	int on_kafka = !strcmp(app->cfg.writer_transport, "kafka");
	int rc = seckill_kafka_lag(app, &k);
	if (rc < 0)
		return 0; /* Redis down: the streams' part failed too */
	json_decref(k.partitions);
	/* -1: writer.transport kafka but no relay published its measurement (unknown). */
	metrics_set(lag_kafka, rc ? k.lag : on_kafka ? -1 : 0);
	metrics_set(lag_kafka_age, rc ? k.age_ms : 0);
	return rc ? k.lag : 0;
}

int seckill_writer_lag_refresh(struct app *app)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&lock);
	if (!lag_defined) {
		lag_backlog = metrics_define("flashsale_orderwriter_backlog", NULL,
					     "Intents not yet written: the streams' plus the Kafka "
					     "lag (writer.transport kafka).",
					     1);
		lag_stream = metrics_define("flashsale_orderwriter_stream_backlog", NULL,
					    "Intents in the Redis streams (all activities).", 1);
		lag_kafka = metrics_define(
		    "flashsale_orderwriter_kafka_lag", NULL,
		    "Intents on Kafka the writers' group has not committed (-1: not published).",
		    1);
		lag_kafka_age = metrics_define("flashsale_orderwriter_kafka_lag_age_seconds", NULL,
					       "Age of the relay's Kafka lag measurement, s.",
					       METRICS_GAUGE_MILLI);
		lag_pending =
		    metrics_define("flashsale_orderwriter_pending", NULL,
				   "Intents read by a writer but not yet acknowledged.", 1);
		lag_oldest = metrics_define("flashsale_orderwriter_oldest_age_seconds", NULL,
					    "Age of the oldest unwritten intent, s (0: none).",
					    METRICS_GAUGE_MILLI);
		lag_guard = metrics_define("flashsale_orderwriter_guard_refusals_total", NULL,
					   "Batches the sold-count guard refused (MySQL).", 0);
		lag_defined = 1;
	}
	pthread_mutex_unlock(&lock);
	long long backlog = 0;
	int rc = writer_lag_streams(app, &backlog);
	if (rc == 0)
		metrics_set(lag_backlog, backlog + writer_lag_kafka(app));
	writer_lag_guard(app);
	if (seckill_deadletter_refresh(app) < 0)
		rc = -1;
	return rc;
}
