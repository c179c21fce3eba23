/* activity-dashboard.c - GET /seckill/v1/admin/dashboard: the operators' live view of the sales.
 *
 * Activities shown: live ones within DASH_AHEAD seconds of their start up to DASH_BEHIND
 * seconds after their end, and those cancelled in the last DASH_BEHIND seconds (?id=N shows
 * one activity whatever its state). Per activity, one MySQL statement for all of them (the
 * rows and their order counts) and one read-only Lua script each in Redis (remaining, the
 * purchase script's outcome counters, the intents stream's length, pending count and the age
 * of its oldest entry), so a poll a second costs the hot path nothing measurable.
 *
 * Units queued (taken in Redis, order not written yet) are derived, not summed from the
 * stream: queued = stock - sold - returned - remaining, with sold and returned from MySQL
 * read before remaining from Redis. A cancelled order moves units from sold to remaining
 * (while live), so the identity holds; queued + sold is exact even while the writer commits
 * between the two reads (what it writes moves from one to the other). Intents the writer
 * will reject (e.g. after a cancel) are not counted: they never were units in MySQL.
 *
 * writer.transport kafka: the stream is the relay's backlog, and the intents the relay moved to
 * the topic wait in the writers' consumer-group lag, which the relay publishes in Redis
 * (seckill_kafka_lag): the whole lag in writerKafka, and each activity's partition's in
 * writer.kafka (a bound: a partition holds the activities of the same id mod their count).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.h"
#include "log.h"
#include "seckill.h"

#define DASH_AHEAD  600 /* upcoming activities starting within 10 minutes */
#define DASH_BEHIND 300 /* ended or cancelled within the last 5 minutes */
#define DASH_MAX    50

/* The activities with their written orders (whatever their state: the order-writer counts them
 * in the row, sql/090_activity_orders.sql). */
#define DASH_COLUMNS                                                                               \
	"SELECT a.id, a.title, a.cover, a.stock, a.sold, a.returned, "                             \
	"a.per_user_limit AS perUserLimit, a.seckill_price AS seckillPrice, "                      \
	"a.start_time AS startTime, a.end_time AS endTime, a.status, a.orders "                    \
	"FROM flashsale_seckill.activity a "

/*
 * Read an activity's Redis state at once. KEYS: stock, stats, intents. ARGV: group.
 * Returns {remaining or -1 (not loaded), stats as a flat array, XLEN, pending, oldest age ms
 * or -1, queued answers}. Acknowledged intents are deleted, so the oldest entry is the oldest
 * unwritten one. The queued answers are the stream's entries-added (one XADD each; trimming
 * and deleting leave the count), which the purchase script does not count in stats.
 */
static struct cache_script dash_script = {
    .src = "local left = tonumber(redis.call('GET', KEYS[1]) or '-1')\n"
	   "local stats = redis.call('HGETALL', KEYS[2])\n"
	   "local len = redis.call('XLEN', KEYS[3])\n"
	   "local pend = 0\n"
	   "local p = redis.pcall('XPENDING', KEYS[3], ARGV[1])\n"
	   "if type(p) == 'table' and type(p[1]) == 'number' then pend = p[1] end\n"
	   "local age = -1\n"
	   "local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)\n"
	   "if first[1] then\n"
	   "  local t = redis.call('TIME')\n"
	   "  local ms = tonumber(string.match(first[1][1], '^(%d+)'))\n"
	   "  age = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - ms\n"
	   "  if age < 0 then age = 0 end\n"
	   "end\n"
	   "local added = 0\n"
	   "local xi = redis.pcall('XINFO', 'STREAM', KEYS[3])\n"
	   "if type(xi) == 'table' then\n"
	   "  for i = 1, #xi - 1, 2 do\n"
	   "    if xi[i] == 'entries-added' then added = xi[i + 1] end\n"
	   "  end\n"
	   "end\n"
	   "return {left, stats, len, pend, age, added}\n",
};

/* An activity's Redis side as the script reports it. */
struct dash_redis {
	long long remaining; /* -1: not loaded */
	long long intents, pending, oldest_ms;
	long long queued, soldout, limit, notstarted, ended, ratelimited;
};

/* The integer of a row's column. */
static long long dash_int(json_t *row, const char *name)
{
	return json_integer_value(json_object_get(row, name));
}

/* Store one stats field of the script's answer into d. */
static void dash_stat(struct dash_redis *d, const char *field, long long v)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
	    {"soldout", offsetof(struct dash_redis, soldout)},
	    {"limit", offsetof(struct dash_redis, limit)},
	    {"notstarted", offsetof(struct dash_redis, notstarted)},
	    {"ended", offsetof(struct dash_redis, ended)},
	    {"ratelimited", offsetof(struct dash_redis, ratelimited)},
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!strcmp(field, fields[i].name))
			*(long long *)((char *)d + fields[i].off) = v;
}

/* Run the script for activity id. 0, or an API code (Redis down or a bad answer). */
static int dash_redis_read(struct app *app, long long id, struct dash_redis *d)
{
	char stock[64], stats[64], intents[64];
	int rc = E_SERVER;

	memset(d, 0, sizeof *d);
	activity_key(stock, sizeof stock, id, AK_STOCK, NULL);
	activity_key(stats, sizeof stats, id, AK_STATS, NULL);
	activity_key(intents, sizeof intents, id, AK_INTENTS, NULL);
	const char *argv[] = {stock, stats, intents, ACTIVITY_GROUP};
	redisReply *r = cache_eval(app->cache, &dash_script, 3, 4, argv);
	if (!r)
		return E_DB_BUSY;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 6 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_ARRAY)
		goto out;
	for (size_t i = 2; i < 6; i++)
		if (r->element[i]->type != REDIS_REPLY_INTEGER)
			goto out;
	d->remaining = r->element[0]->integer;
	d->intents = r->element[2]->integer;
	d->pending = r->element[3]->integer;
	d->oldest_ms = r->element[4]->integer;
	redisReply *s = r->element[1];
	for (size_t i = 0; i + 1 < s->elements; i += 2)
		if (s->element[i]->type == REDIS_REPLY_STRING &&
		    s->element[i + 1]->type == REDIS_REPLY_STRING)
			dash_stat(d, s->element[i]->str, strtoll(s->element[i + 1]->str, NULL, 10));
	d->queued = r->element[5]->integer;
	rc = 0;
out:
	if (rc)
		log_error("dashboard script: %s",
			  r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
	freeReplyObject(r);
	return rc;
}

/* The API's status word of an activity. */
static const char *dash_status(long long st, long long start, long long end, long long left,
			       long long now)
{
	if (st == ACTIVITY_CANCELLED)
		return "cancelled";
	if (st == ACTIVITY_ENDED || now >= end)
		return "ended";
	if (now < start)
		return "upcoming";
	return left == 0 ? "soldout" : "ongoing";
}

/* The Kafka part of an activity's writer lag: its partition's lag, or null without a measurement.
 */
static json_t *dash_kafka(long long id, json_t *parts)
{
	size_t n = json_array_size(parts);
	if (!n)
		return json_null();
	size_t p = (size_t)id % n;
	return json_pack("{s:I,s:O}", "partition", (json_int_t)p, "lag", json_array_get(parts, p));
}

/* Turn a row into the dashboard's activity (the row is changed in place); parts: the Kafka lag
 * per partition, or NULL. 0 or an API code. */
static int dash_activity(struct app *app, json_t *row, long long now, json_t *parts)
{
	struct dash_redis d;
	long long id = dash_int(row, "id"), stock = dash_int(row, "stock");
	long long sold = dash_int(row, "sold"), returned = dash_int(row, "returned");
	int rc = dash_redis_read(app, id, &d), complete = 1;
	if (rc)
		return rc;
	long long memo = seckill_memo_soldout(id, &complete);
	long long st = dash_int(row, "status");
	/* Not loaded (or closed: remaining 0 in Redis): MySQL's count is all there is. */
	long long left = d.remaining >= 0 ? d.remaining : stock - sold - returned;
	if (st != ACTIVITY_LIVE)
		left = 0;
	long long queued = d.remaining >= 0 ? stock - sold - returned - d.remaining : 0;
	if (queued < 0)
		queued = 0;
	long long requests =
	    d.queued + d.soldout + memo + d.limit + d.notstarted + d.ended + d.ratelimited;
	json_t *writer = json_pack("{s:I,s:I,s:o,s:o}", "intents", (json_int_t)d.intents, "pending",
				   (json_int_t)d.pending, "oldestAgeMs",
				   d.oldest_ms >= 0 ? json_integer(d.oldest_ms) : json_null(),
				   "kafka", dash_kafka(id, parts));
	/* Token failures are counted domain-wide only: their activity id is not trusted. */
	json_t *out =
	    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "requests", (json_int_t)requests,
		      "queued", (json_int_t)d.queued, "soldOut", (json_int_t)(d.soldout + memo),
		      "soldOutMemo", (json_int_t)memo, "limitReached", (json_int_t)d.limit,
		      "notStarted", (json_int_t)d.notstarted, "ended", (json_int_t)d.ended,
		      "rateLimited", (json_int_t)d.ratelimited, "memoCounted", complete);
	if (!writer || !out) {
		json_decref(writer);
		json_decref(out);
		return E_SERVER;
	}
	json_object_set_new(row, "status",
			    json_string(dash_status(st, dash_int(row, "startTime"),
						    dash_int(row, "endTime"), left, now)));
	json_object_set_new(row, "remaining", json_integer(left));
	json_object_set_new(row, "loaded", json_boolean(d.remaining >= 0));
	json_object_set_new(row, "queued", json_integer(queued));
	json_object_set_new(row, "writer", writer);
	json_object_set_new(row, "outcomes", out);
	return 0;
}

/* The program-wide outcome counters (every worker), with their total. */
static json_t *dash_domain(void)
{
	json_t *o = json_object();
	long long total = 0;
	for (int i = 0; o && i < SECKILL_OUTCOMES; i++) {
		long long v = seckill_outcome_total(i);
		total += v;
		json_object_set_new(o, seckill_outcome_name(i), json_integer(v));
	}
	if (o)
		json_object_set_new(o, "requests", json_integer(total));
	return o;
}

/* The milliseconds of the wall clock. */
static long long dash_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The writers' whole Kafka lag as the relay published it, or null (none: Redis transport). */
static json_t *dash_writer_kafka(struct seckill_kafka_lag *k)
{
	if (!k->partitions)
		return json_null();
	return json_pack("{s:I,s:I,s:O}", "lag", (json_int_t)k->lag, "measuredAgeMs",
			 (json_int_t)k->age_ms, "partitions", k->partitions);
}

int seckill_dashboard(struct app *app, struct http_req *req)
{
	struct seckill_kafka_lag k;
	long long id = 0, now_ms = dash_now_ms(), now = now_ms / 1000;
	json_t *rows = NULL, *row;
	size_t i;
	int rc = param_int(req, "id", 0, 1, (long long)1 << 53, &id);
	if (rc)
		return rc;
	if (id)
		rc = db_query(db_reader(app->db), &rows, DASH_COLUMNS "WHERE a.id = ?", "i", id);
	else
		rc = db_query(
		    db_reader(app->db), &rows,
		    DASH_COLUMNS
		    "WHERE a.start_time <= ? AND ((a.status <> 1 AND a.end_time > ?) OR "
		    "(a.status = 1 AND a.update_time >= ?)) "
		    "ORDER BY (a.status = 0 AND a.start_time <= ? AND a.end_time > ?) DESC, "
		    "a.start_time DESC, a.id DESC LIMIT ?",
		    "iiiiii", now + DASH_AHEAD, now - DASH_BEHIND, now - DASH_BEHIND, now, now,
		    (long long)DASH_MAX);
	if (rc)
		return err_from_db(rc);
	if (id && json_array_size(rows) == 0) {
		json_decref(rows);
		return E_ACTIVITY_NOT_FOUND;
	}
	seckill_kafka_lag(app, &k); /* Redis down: the activities' script fails below */
	for (i = 0; i < json_array_size(rows); i++) {
		row = json_array_get(rows, i);
		if ((rc = dash_activity(app, row, now, k.partitions))) {
			json_decref(rows);
			json_decref(k.partitions);
			return rc;
		}
	}
	json_t *domain = dash_domain();
	req->data =
	    json_pack("{s:o,s:o*,s:I,s:I,s:s,s:I,s:I,s:o*}", "list", rows, "outcomes", domain,
		      "serverTime", (json_int_t)now, "serverTimeMs", (json_int_t)now_ms,
		      "queuedSource", "stock - sold - returned - remaining (MySQL, Redis)",
		      "windowAhead", (json_int_t)DASH_AHEAD, "windowBehind",
		      (json_int_t)DASH_BEHIND, "writerKafka", dash_writer_kafka(&k));
	json_decref(k.partitions);
	return req->data ? 0 : E_SERVER;
}
