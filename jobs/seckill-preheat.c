/* seckill-preheat.c - flashsale-seckill-preheat (cron): upcoming activities into Redis, ended
 * ones settled (unsold units back to the product once their intents have drained), drained
 * closed activities dropped from the order-writer's list, sold-out markers of ended ones
 * removed. Under a distributed lock.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.h"
#include "config.h"
#include "guard.h"
#include "log.h"
#include "job.h"

/* Reservations of an activity that requires them, so the token check is one set lookup. */
static void preheat_reservations(struct db *db, struct cache *c, long long id)
{
	struct guard_rules rules;
	if (guard_rules_get(db, c, id, &rules) != GUARD_OK || !rules.reservation)
		return;
	if (guard_reservations_load(db, c, id, rules.keep) != GUARD_OK)
		log_warn("preheat: reservations of activity %lld not loaded", id);
}

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
		preheat_reservations(db, c, id);
	}
	json_decref(rows);
	return 0;
}

/* Intents of an activity not yet written (acknowledged entries are deleted): -1 if unknown. */
static long long preheat_inflight(struct cache *c, long long id)
{
	char key[64];
	activity_key(key, sizeof key, id, AK_INTENTS, NULL);
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

/* Drop closed activities whose intents have drained from the live set. */
static void preheat_prune(struct cache *c)
{
	char key[ACTIVITY_KEY_MAX], *end;
	redisReply *r = cache_command(c, "SMEMBERS %s", ACTIVITY_LIVE_KEY);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const char *sid = r->element[i]->str;
		long long id =
		    r->element[i]->type == REDIS_REPLY_STRING ? strtoll(sid, &end, 10) : 0;
		if (id <= 0 || *end)
			continue;
		activity_key(key, sizeof key, id, AK_INFO, NULL);
		redisReply *s = cache_command(c, "HGET %s status", key);
		int closed = s && s->type == REDIS_REPLY_STRING && strcmp(s->str, "0");
		if (s)
			freeReplyObject(s);
		if (closed && preheat_inflight(c, id) == 0) {
			redisReply *d = cache_command(c, "SREM %s %s", ACTIVITY_LIVE_KEY, sid);
			if (d)
				freeReplyObject(d);
		}
	}
	if (r)
		freeReplyObject(r);
}

/* Is the marker file name an activity that no longer sells (closed, ended or unknown)? */
static int preheat_marker_stale(struct db *db, const char *name, long long *id)
{
	json_t *row = NULL;
	char *end;
	*id = strtoll(name, &end, 10);
	if (*id <= 0 || *end)
		return 0; /* not a marker */
	if (db_query_row(db, &row,
			 "SELECT status, end_time FROM flashsale_seckill.activity WHERE id = ?",
			 "i", *id))
		return 0; /* MySQL unavailable: next run */
	int stale = !row || json_integer_value(json_object_get(row, "status")) != ACTIVITY_LIVE ||
		    json_integer_value(json_object_get(row, "end_time")) <= (long long)time(NULL);
	json_decref(row);
	return stale;
}

/* Remove the sold-out marker files of activities that ended or were closed. The number. */
static int preheat_markers(struct db *db, const char *dir)
{
	int removed = 0;
	DIR *d = dir[0] ? opendir(dir) : NULL;
	struct dirent *e;
	long long id;
	while (d && (e = readdir(d)))
		if (preheat_marker_stale(db, e->d_name, &id) && activity_marker_clear(dir, id) == 0)
			removed++;
	if (d)
		closedir(d);
	return removed;
}

/* One run: load what starts soon, settle what ended, prune drained streams. */
static int seckill_preheat_run(struct job *j)
{
	int loaded = 0, settled = 0, rc = 1;
	if (preheat_load(j->db, j->cache, j->cfg.seckill_preheat_minutes, &loaded) == 0 &&
	    preheat_settle(j->db, j->cache, j->cfg.seckill_settle_grace, &settled) == 0)
		rc = 0;
	preheat_prune(j->cache);
	/* The blocklist's Redis copy follows MySQL even if an admin change missed Redis. */
	if (guard_blocklist_load(j->db, j->cache) != GUARD_OK)
		log_warn("preheat: blocklist not rebuilt in Redis");
	int markers = preheat_markers(j->db, j->cfg.seckill_marker_dir);
	printf("preheat: %d activities loaded, %d settled, %d sold-out markers removed%s\n", loaded,
	       settled, markers, rc ? " (MySQL unavailable)" : "");
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
