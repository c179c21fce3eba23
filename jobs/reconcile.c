/* reconcile.c - flashsale-reconcile (cron): compare each activity's units in Redis with MySQL.
 *
 * MySQL is the truth: stock = sold + returned + remaining. Redis must agree once the
 * intents still in the stream (not yet written) are counted: remaining(Redis) = stock -
 * sold - returned - in-flight, and each user's units(Redis) = quota(MySQL) + in-flight.
 * A mismatch is reported (exit 3); with --repair Redis is rewritten from MySQL. A writer
 * committing between the two reads can make a snapshot disagree for a moment, so an
 * activity is reported only if it disagrees three times in a row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "activity.h"
#include "config.h"
#include "log.h"
#include "seckill-lib.h"
#include "job.h"
#include "kafka.h"

/*
 * Snapshot, or with ARGV[1] = 'repair' rewrite, one activity's Redis state.
 * KEYS: info, stock, users, intents. ARGV: mode, base remaining (stock - sold - returned,
 * 0 when closed), status, then user/units pairs from MySQL. Returns {ok, remaining,
 * users units total, in-flight units, users that differ}.
 */
static struct cache_script reconcile_script = {
    .src = "local inflight, per = 0, {}\n"
	   "for _, e in ipairs(redis.call('XRANGE', KEYS[4], '-', '+')) do\n"
	   "  local f, uid, q = e[2], nil, 0\n"
	   "  for i = 1, #f, 2 do\n"
	   "    if f[i] == 'uid' then uid = f[i + 1] elseif f[i] == 'qty' then q = tonumber(f[i + "
	   "1]) end\n"
	   "  end\n"
	   "  if uid then per[uid] = (per[uid] or 0) + q; inflight = inflight + q end\n"
	   "end\n"
	   "local want = {}\n"
	   "for i = 4, #ARGV, 2 do want[ARGV[i]] = tonumber(ARGV[i + 1]) end\n"
	   "for uid, q in pairs(per) do want[uid] = (want[uid] or 0) + q end\n"
	   "local left = tonumber(ARGV[2]) - inflight\n"
	   "if ARGV[3] ~= '0' then left = 0 end\n"
	   "if left < 0 then left = 0 end\n"
	   "if ARGV[1] == 'repair' and redis.call('EXISTS', KEYS[1]) == 0 then\n"
	   "  return {0, -1, 0, inflight, -1}\n"
	   "end\n"
	   "if ARGV[1] == 'repair' then\n"
	   "  redis.call('SET', KEYS[2], left, 'KEEPTTL')\n"
	   "  redis.call('HSET', KEYS[1], 'status', ARGV[3])\n"
	   "  redis.call('DEL', KEYS[3])\n"
	   "  for uid, q in pairs(want) do\n"
	   "    if q > 0 then redis.call('HSET', KEYS[3], uid, q) end\n"
	   "  end\n"
	   "end\n"
	   "local have, total, differ = redis.call('HGETALL', KEYS[3]), 0, 0\n"
	   "local seen = {}\n"
	   "for i = 1, #have, 2 do\n"
	   "  local q = tonumber(have[i + 1])\n"
	   "  total = total + q\n"
	   "  seen[have[i]] = true\n"
	   "  if q ~= (want[have[i]] or 0) then differ = differ + 1 end\n"
	   "end\n"
	   "for uid, q in pairs(want) do\n"
	   "  if not seen[uid] and q ~= 0 then differ = differ + 1 end\n"
	   "end\n"
	   "local rem = tonumber(redis.call('GET', KEYS[2]) or '-1')\n"
	   "local ok = 1\n"
	   "if rem ~= left or differ > 0 or redis.call('EXISTS', KEYS[1]) == 0 then ok = 0 end\n"
	   "return {ok, rem, total, inflight, differ}\n",
};

/* One activity's comparison. */
struct recon {
	long long id, stock, sold, returned, status;
	long long ok, remaining, users, inflight, differ;
};

/* Run the script for one activity with MySQL's numbers; 0 or -1 (a source unavailable). */
static int reconcile_one(struct db *db, struct cache *c, struct recon *x, int repair)
{
	char info[64], stock[64], users[64], intents[64], base[24], st[24];
	json_t *row = NULL, *rows = NULL;
	const char **argv = NULL;
	char(*nums)[2][24] = NULL;
	int rc = -1;

	if (db_query_row(db, &row,
			 "SELECT stock, sold, returned, status FROM flashsale_seckill.activity "
			 "WHERE id = ?",
			 "i", x->id) ||
	    !row)
		goto out;
	x->stock = json_integer_value(json_object_get(row, "stock"));
	x->sold = json_integer_value(json_object_get(row, "sold"));
	x->returned = json_integer_value(json_object_get(row, "returned"));
	x->status = json_integer_value(json_object_get(row, "status"));
	if (db_query(
		db, &rows,
		"SELECT user_id, units FROM flashsale_seckill.user_quota WHERE activity_id = ? "
		"AND units > 0",
		"i", x->id))
		goto out;
	size_t n = json_array_size(rows), argc = 0;
	argv = malloc((8 + 2 * n) * sizeof *argv);
	nums = malloc((n + 1) * sizeof *nums);
	if (!argv || !nums)
		goto out;
	activity_key(info, sizeof info, x->id, AK_INFO, NULL);
	activity_key(stock, sizeof stock, x->id, AK_STOCK, NULL);
	activity_key(users, sizeof users, x->id, AK_USERS, NULL);
	activity_key(intents, sizeof intents, x->id, AK_INTENTS, NULL);
	snprintf(base, sizeof base, "%lld",
		 x->status == ACTIVITY_LIVE ? x->stock - x->sold - x->returned : 0);
	snprintf(st, sizeof st, "%lld", x->status);
	argv[argc++] = info;
	argv[argc++] = stock;
	argv[argc++] = users;
	argv[argc++] = intents;
	argv[argc++] = repair ? "repair" : "check";
	argv[argc++] = base;
	argv[argc++] = st;
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_array_get(rows, i);
		snprintf(nums[i][0], 24, "%lld",
			 (long long)json_integer_value(json_object_get(r, "user_id")));
		snprintf(nums[i][1], 24, "%lld",
			 (long long)json_integer_value(json_object_get(r, "units")));
		argv[argc++] = nums[i][0];
		argv[argc++] = nums[i][1];
	}
	redisReply *r = cache_eval(c, &reconcile_script, 4, (int)argc, argv);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 5) {
		x->ok = r->element[0]->integer;
		x->remaining = r->element[1]->integer;
		x->users = r->element[2]->integer;
		x->inflight = r->element[3]->integer;
		x->differ = r->element[4]->integer;
		rc = 0;
	}
	if (r)
		freeReplyObject(r);
out:
	free(argv);
	free(nums);
	json_decref(row);
	json_decref(rows);
	return rc;
}

/* The run's config (for reconcile_kafka_busy). */
static const struct fs_config *reconcile_cfg;

/*
 * writer.transport kafka: intents on their way through Kafka are in neither the stream nor
 * MySQL, so the comparison holds only while the writers' group has no lag. 1 while it has (or
 * is unknown), 0 with none or on the Redis transport.
 */
static int reconcile_kafka_busy(const struct fs_config *cfg)
{
	long long lag = -1;
	if (strcmp(cfg->writer_transport, "kafka"))
		return 0;
	if (kafka_group_lag(cfg, cfg->writer_kafka_group, cfg->writer_kafka_topic, NULL, &lag) <
		0 ||
	    lag != 0) {
		printf("reconcile: intents in flight on Kafka (writers' lag %lld): not compared, "
		       "run again once the writers caught up\n",
		       lag);
		return 1;
	}
	return 0;
}

/* Check (and maybe repair) one activity; 1 if it disagrees, 0 if not, -1 on errors. */
static int reconcile_activity(struct db *db, struct cache *c, long long id, int repair)
{
	struct recon x = {.id = id};
	for (int attempt = 0; attempt < 3; attempt++) {
		if (reconcile_one(db, c, &x, 0) < 0)
			return -1;
		if (x.ok)
			break;
		usleep(300000);
	}
	printf("activity %lld: %s mysql stock=%lld sold=%lld returned=%lld | redis remaining=%lld "
	       "users=%lld in-flight=%lld users-differing=%lld\n",
	       id, x.ok ? "ok      " : "MISMATCH", x.stock, x.sold, x.returned, x.remaining,
	       x.users, x.inflight, x.differ);
	if (x.ok)
		return 0;
	if (repair && reconcile_kafka_busy(reconcile_cfg)) {
		return 1; /* not repaired from a comparison Kafka's in-flight intents made wrong */
	} else if (repair) {
		struct recon y = {.id = id};
		if (reconcile_one(db, c, &y, 1) < 0)
			return -1;
		if (y.differ < 0 && activity_cache_load(db, c, id) != DB_CHANGED)
			return -1; /* Redis lost the activity: load it whole */
		printf("activity %lld: repaired, redis remaining=%lld users=%lld\n", id,
		       y.remaining, y.users);
		log_warn("reconcile: activity %lld repaired from MySQL", id);
	} else {
		log_warn("reconcile: activity %lld disagrees between Redis and MySQL", id);
	}
	return 1;
}

/* Options of a run. */
static struct {
	int repair;
	long long only;
} reconcile_opts;

/* --repair, --activity ID. */
static int reconcile_parse(struct job *j, int argc, char **argv)
{
	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--repair"))
			reconcile_opts.repair = 1;
		else if (!strcmp(argv[k], "--activity") && k + 1 < argc)
			reconcile_opts.only = strtoll(argv[++k], NULL, 10);
		else
			return -1;
	}
	return 0;
}

/* One run: every live (or recently closed) activity, or the one asked for. */
static int reconcile_run(struct job *j)
{
	long long only = reconcile_opts.only;
	int bad = 0, rc = 1;
	json_t *rows = NULL, *row;
	size_t i;

	/* Live activities, and closed ones of the last day (late cancellations). */
	if (db_query(j->db, &rows,
		     "SELECT id FROM flashsale_seckill.activity WHERE (? = 0 AND (status = 0 OR "
		     "update_time > UNIX_TIMESTAMP() - 86400)) OR id = ? ORDER BY id LIMIT 1000",
		     "ii", only, only)) {
		fprintf(stderr, "flashsale-reconcile: MySQL unavailable\n");
		goto out;
	}
	rc = 0;
	reconcile_cfg = &j->cfg;
	if (reconcile_kafka_busy(&j->cfg))
		goto out;
	json_array_foreach(rows, i, row)
	{
		int r = reconcile_activity(j->db, j->cache,
					   json_integer_value(json_object_get(row, "id")),
					   reconcile_opts.repair);
		if (r < 0)
			rc = 1;
		else
			bad += r;
	}
	printf("reconcile: %zu activities, %d disagreeing%s\n", json_array_size(rows), bad,
	       bad && reconcile_opts.repair ? " (repaired)" : "");
	if (rc == 0 && bad)
		rc = 3;
out:
	json_decref(rows);
	return rc;
}

static const struct job_entry reconcile_entry = {
    .name = "reconcile",
    .usage = "[--repair] [--activity ID]",
    .needs = JOB_DB | JOB_CACHE | JOB_LOCK | JOB_RECORD,
    .lock_ms = 120000,
    .parse = reconcile_parse,
    .run = reconcile_run,
};

int main(int argc, char **argv)
{
	return job_main(&reconcile_entry, argc, argv);
}
