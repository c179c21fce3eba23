/* seckill-preheat.c - flashsale-seckill-preheat (cron): upcoming activities into Redis, ended
 * ones settled (unsold units back to the product once their intents have drained), drained
 * streams of closed activities dropped from the order-writer's list. Under a distributed lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.h"
#include "config.h"
#include "log.h"
#include "job.h"

/* Load activities that start within the preheat window and have not ended. */
static int preheat_load(struct db *db, struct cache *c, long minutes, int *loaded)
{
	json_t *rows = NULL, *row;
	size_t i;
	long long now = (long long)time(NULL);
	int rc = db_query(db, &rows,
			  "SELECT id FROM flashsale_seckill.activity WHERE status = 0 AND "
			  "start_time <= ? AND end_time > ? ORDER BY start_time LIMIT 1000",
			  "ii", now + minutes * 60, now);
	if (rc)
		return -1;
	json_array_foreach(rows, i, row)
	{
		long long id = json_integer_value(json_object_get(row, "id"));
		int lrc = activity_cache_load(db, c, id);
		if (lrc == DB_CHANGED)
			(*loaded)++;
		else if (lrc != DB_UNCHANGED)
			log_warn("preheat: activity %lld not loaded (%d)", id, lrc);
	}
	json_decref(rows);
	return 0;
}

/* Intents of an activity not yet written (acknowledged entries are deleted): -1 if unknown. */
static long long preheat_inflight(struct cache *c, long long id)
{
	char key[64];
	activity_key(key, sizeof key, id, "intents");
	redisReply *r = cache_command(c, "XLEN %s", key);
	long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	if (r)
		freeReplyObject(r);
	return n;
}

/* Settle live activities that ended more than grace seconds ago and have drained. */
static int preheat_settle(struct db *db, struct cache *c, long grace, int *settled)
{
	json_t *rows = NULL, *row;
	size_t i;
	int rc = db_query(db, &rows,
			  "SELECT id FROM flashsale_seckill.activity WHERE status = 0 AND "
			  "end_time <= ? ORDER BY end_time LIMIT 1000",
			  "i", (long long)time(NULL) - grace);
	if (rc)
		return -1;
	json_array_foreach(rows, i, row)
	{
		long long id = json_integer_value(json_object_get(row, "id")), unsold = 0;
		if (preheat_inflight(c, id) != 0)
			continue; /* Redis down or intents still queued: next run */
		if (activity_close(db, c, id, ACTIVITY_ENDED, &unsold) == DB_CHANGED)
			(*settled)++;
	}
	json_decref(rows);
	return 0;
}

/* Drop drained streams of closed activities from the live set. */
static void preheat_prune(struct cache *c)
{
	char key[64];
	redisReply *r = cache_command(c, "SMEMBERS %s", ACTIVITY_STREAMS_KEY);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const char *stream = r->element[i]->str;
		long long id = strncmp(stream, "{a:", 3) ? -1 : strtoll(stream + 3, NULL, 10);
		if (id < 0)
			continue;
		activity_key(key, sizeof key, id, "info");
		redisReply *s = cache_command(c, "HGET %s status", key);
		int closed = s && s->type == REDIS_REPLY_STRING && strcmp(s->str, "0");
		if (s)
			freeReplyObject(s);
		if (closed && preheat_inflight(c, id) == 0) {
			redisReply *d =
			    cache_command(c, "SREM %s %s", ACTIVITY_STREAMS_KEY, stream);
			if (d)
				freeReplyObject(d);
		}
	}
	if (r)
		freeReplyObject(r);
}

/* One run: load what starts soon, settle what ended, prune drained streams. */
static int seckill_preheat_run(struct job *j)
{
	int loaded = 0, settled = 0, rc = 1;
	if (preheat_load(j->db, j->cache, j->cfg.seckill_preheat_minutes, &loaded) == 0 &&
	    preheat_settle(j->db, j->cache, j->cfg.seckill_settle_grace, &settled) == 0)
		rc = 0;
	preheat_prune(j->cache);
	printf("preheat: %d activities loaded, %d settled%s\n", loaded, settled,
	       rc ? " (MySQL unavailable)" : "");
	return rc;
}

static const struct job_entry seckill_preheat_entry = {
    .name = "seckill-preheat",
    .needs = JOB_DB | JOB_CACHE | JOB_LOCK | JOB_RECORD,
    .lock_ms = 55000,
    .run = seckill_preheat_run,
};

int main(int argc, char **argv)
{
	return job_main(&seckill_preheat_entry, argc, argv);
}
