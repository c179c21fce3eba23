/* writer-lag.c - the order-writer's lag as gauges of /seckill/v1/metrics, read at scrape time. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.h"
#include "metrics.h"
#include "seckill.h"

/*
 * Over every live intents stream: entries waiting (XLEN: the writer deletes what it
 * wrote), entries read but not acknowledged (XPENDING), and the age of the oldest
 * entry in ms (stream ids start with their time). Read-only; walks the live set,
 * so it is run only per scrape, never on the purchase path.
 */
static struct cache_script writer_lag_script = {
    .src = "local len, pending, oldest = 0, 0, 0\n"
	   "for _, s in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
	   "  len = len + redis.call('XLEN', s)\n"
	   "  local p = redis.pcall('XPENDING', s, ARGV[1])\n"
	   "  if type(p) == 'table' then pending = pending + p[1] end\n"
	   "  local first = redis.call('XRANGE', s, '-', '+', 'COUNT', 1)\n"
	   "  if first[1] then\n"
	   "    local ms = tonumber(string.match(first[1][1], '^(%d+)'))\n"
	   "    if oldest == 0 or ms < oldest then oldest = ms end\n"
	   "  end\n"
	   "end\n"
	   "return {len, pending, oldest}\n"};

/* Gauge slots, defined once per worker. */
static int lag_backlog = -1, lag_pending = -1, lag_oldest = -1, lag_defined;

int seckill_writer_lag_refresh(struct app *app)
{
	if (!lag_defined) {
		lag_backlog =
		    metrics_define("flashsale_orderwriter_backlog", NULL,
				   "Intents queued for the order-writer (all streams).", 1);
		lag_pending =
		    metrics_define("flashsale_orderwriter_pending", NULL,
				   "Intents read by a writer but not yet acknowledged.", 1);
		lag_oldest = metrics_define("flashsale_orderwriter_oldest_age_seconds", NULL,
					    "Age of the oldest unwritten intent, s (0: none).",
					    METRICS_GAUGE_MILLI);
		lag_defined = 1;
	}
	const char *argv[] = {ACTIVITY_STREAMS_KEY, ACTIVITY_GROUP};
	redisReply *r = cache_eval(app->cache, &writer_lag_script, 1, 2, argv);
	int rc = -1;
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		long long oldest = r->element[2]->integer;
		metrics_set(lag_backlog, r->element[0]->integer);
		metrics_set(lag_pending, r->element[1]->integer);
		metrics_set(lag_oldest, oldest > 0 && now_ms > oldest ? now_ms - oldest : 0);
		rc = 0;
	}
	if (r)
		freeReplyObject(r);
	return rc;
}
