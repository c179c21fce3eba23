/* activity.c - an activity's units between MySQL (the truth) and Redis (the fast gate). */
#include "activity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "lua-scripts.h"
#include "seckill-lib.h"
#include "stock.h"

#define ACTIVITY_LOAD_CHUNK 500         /* users per Redis call when loading quotas */
#define ACTIVITY_KEEP       (7 * 86400) /* Redis state outlives the end by a week */

/* Units back (lua/stock-return.lua). */
static struct cache_script activity_return_script = {.src = lua_stock_return};

/* Load users' units (a chunk), only while the activity is not loaded; ARGV[1] '1' = first. */
static struct cache_script activity_users_script = {
    .src = "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
	   "if ARGV[1] == '1' then redis.call('DEL', KEYS[2]) end\n"
	   "if #ARGV > 1 then redis.call('HSET', KEYS[2], unpack(ARGV, 2)) end\n"
	   "return 1\n",
};

/* Create info and remaining unless info exists: the load's commit point. */
static struct cache_script activity_info_script = {
    .src = "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
	   "redis.call('SET', KEYS[2], ARGV[8])\n"
	   "redis.call('HSET', KEYS[1], 'start', ARGV[1], 'end', ARGV[2], 'limit', ARGV[3],\n"
	   "  'price', ARGV[4], 'product', ARGV[5], 'status', ARGV[6], 'stock', ARGV[7])\n"
	   "for i = 1, 3 do redis.call('EXPIREAT', KEYS[i], ARGV[9]) end\n"
	   "return 1\n",
};

/* Close: status set and nothing remains to sell. */
static struct cache_script activity_close_script = {
    .src = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
	   "redis.call('HSET', KEYS[1], 'status', ARGV[1])\n"
	   "redis.call('SET', KEYS[2], 0, 'KEEPTTL')\n"
	   "return 1\n",
};

const char *seckill_reason_str(int reason)
{
	static const char *const strs[REASON_COUNT] = {
	    [REASON_NONE] = "",
	    [REASON_ACTIVITY_NOT_FOUND] = "activity not found",
	    [REASON_ACTIVITY_CLOSED] = "activity closed",
	    [REASON_SOLD_OUT] = "sold out",
	    [REASON_LIMIT_REACHED] = "purchase limit reached",
	    [REASON_MALFORMED] = "malformed intent",
	    [REASON_UNWRITABLE] = "order could not be written",
	};
	return reason > 0 && reason < REASON_COUNT ? strs[reason] : "";
}

int activity_key(char *out, size_t len, long long id, enum activity_part part, const char *sub)
{
	static const char *const names[] = {
	    [AK_INFO] = "info",       [AK_STOCK] = "stock",       [AK_USERS] = "users",
	    [AK_INTENTS] = "intents", [AK_STATS] = "stats",       [AK_REVOKED] = "revoked",
	    [AK_DEAD] = "dead",       [AK_REQ] = "req",           [AK_RL] = "rl",
	    [AK_RULES] = "rules",     [AK_RESERVED] = "reserved", [AK_ADDR] = "addr",
	    [AK_POW] = "pow",
	};
	/* Put together by hand, not with snprintf: the purchase builds eight keys a request. */
	char digits[24];
	size_t nd = 0, nn = strlen(names[part]);
	int with_sub = part == AK_REQ || part == AK_RL || part == AK_ADDR || part == AK_POW;
	size_t ns = with_sub && sub ? strlen(sub) : 0;
	unsigned long long v = id < 0 ? 0ull - (unsigned long long)id : (unsigned long long)id;
	do
		digits[nd++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	if (id < 0)
		digits[nd++] = '-';
	size_t need = 3 + nd + 2 + nn + (with_sub ? 1 + ns : 0);
	if (need >= len) { /* truncated as snprintf would, and refused */
		if (len > 0)
			snprintf(out, len, "{a:%lld}:%s%s%s", id, names[part], with_sub ? ":" : "",
				 with_sub && sub ? sub : "");
		return -1;
	}
	char *p = out;
	memcpy(p, "{a:", 3);
	p += 3;
	while (nd > 0)
		*p++ = digits[--nd];
	memcpy(p, "}:", 2);
	p += 2;
	memcpy(p, names[part], nn);
	p += nn;
	if (with_sub) {
		*p++ = ':';
		memcpy(p, sub, ns);
		p += ns;
	}
	*p = 0;
	return 0;
}

int activity_return_db(struct db *db, long long activity_id, long long user_id, long long n)
{
	json_t *row = NULL;
	int rc;

	if (n <= 0)
		return DB_OK;
	rc = db_query_row(db, &row,
			  "SELECT status, product_id FROM flashsale_seckill.activity WHERE id = ? "
			  "FOR UPDATE",
			  "i", activity_id);
	if (rc)
		goto out;
	if (!row) {
		log_error("activity_return_db: no activity %lld", activity_id);
		rc = DB_ERR;
		goto out;
	}
	long long status = json_integer_value(json_object_get(row, "status"));
	long long product_id = json_integer_value(json_object_get(row, "product_id"));

	rc = db_exec(db,
		     "UPDATE flashsale_seckill.user_quota SET units = units - ? "
		     "WHERE activity_id = ? AND user_id = ? AND units >= ?",
		     "iiii", n, activity_id, user_id, n);
	if (rc)
		goto out;
	if (db_affected_rows(db) != 1)
		log_warn("activity %lld: user %lld held fewer than %lld units", activity_id,
			 user_id, n);
	if (status == ACTIVITY_LIVE)
		rc = db_exec(
		    db,
		    "UPDATE flashsale_seckill.activity SET sold = sold - ?, version = "
		    "version + 1, update_time = UNIX_TIMESTAMP() WHERE id = ? AND sold >= ?",
		    "iii", n, activity_id, n);
	else
		rc = db_exec(db,
			     "UPDATE flashsale_seckill.activity SET sold = sold - ?, returned = "
			     "returned + ?, version = version + 1, update_time = UNIX_TIMESTAMP() "
			     "WHERE id = ? AND sold >= ?",
			     "iiii", n, n, activity_id, n);
	if (rc)
		goto out;
	if (db_affected_rows(db) != 1) {
		log_error("activity %lld: sold count below %lld units returned", activity_id, n);
		rc = DB_ERR;
		goto out;
	}
	/* Closed: its unsold units already went back, so these follow them to the product. */
	if (status != ACTIVITY_LIVE)
		rc = stock_product_return(db, product_id, n);
out:
	json_decref(row);
	return rc;
}

int activity_return_cache(struct cache *c, long long activity_id, long long user_id, long long n)
{
	char info[64], stock[64], users[64], uid[24], num[24];

	activity_key(info, sizeof info, activity_id, AK_INFO, NULL);
	activity_key(stock, sizeof stock, activity_id, AK_STOCK, NULL);
	activity_key(users, sizeof users, activity_id, AK_USERS, NULL);
	snprintf(uid, sizeof uid, "%lld", user_id);
	snprintf(num, sizeof num, "%lld", n);
	const char *argv[] = {info, stock, users, uid, num};
	redisReply *r = cache_eval(c, &activity_return_script, 3, 5, argv);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (!ok)
		log_warn("activity %lld: units of user %lld not returned in Redis", activity_id,
			 user_id);
	else if (r->integer == STOCK_RETURN_NOT_LOADED)
		log_info("activity %lld not in Redis: units of user %lld go back at its load",
			 activity_id, user_id);
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/* Write the users' units of an activity into Redis in chunks, before its info exists. */
static int activity_load_users(struct db *db, struct cache *c, long long id, const char *info,
			       const char *users)
{
	json_t *rows = NULL;
	const char **argv = NULL;
	char(*nums)[24] = NULL;
	int rc = db_query(db, &rows,
			  "SELECT user_id, units FROM flashsale_seckill.user_quota "
			  "WHERE activity_id = ? AND units > 0",
			  "i", id);
	if (rc)
		return rc;
	size_t n = json_array_size(rows), i = 0;
	argv = malloc((3 + 2 * ACTIVITY_LOAD_CHUNK) * sizeof *argv);
	nums = malloc(2 * ACTIVITY_LOAD_CHUNK * sizeof *nums);
	if (!argv || !nums) {
		rc = DB_ERR;
		goto out;
	}
	do {
		int argc = 3, k = 0;
		argv[0] = info;
		argv[1] = users;
		argv[2] = i == 0 ? "1" : "0";
		for (; i < n && k < 2 * ACTIVITY_LOAD_CHUNK; i++, k += 2) {
			json_t *row = json_array_get(rows, i);
			snprintf(nums[k], 24, "%lld",
				 (long long)json_integer_value(json_object_get(row, "user_id")));
			snprintf(nums[k + 1], 24, "%lld",
				 (long long)json_integer_value(json_object_get(row, "units")));
			argv[argc++] = nums[k];
			argv[argc++] = nums[k + 1];
		}
		redisReply *r = cache_eval(c, &activity_users_script, 2, argc, argv);
		int ok = r && r->type == REDIS_REPLY_INTEGER;
		long long loaded = ok ? r->integer : 0;
		if (r)
			freeReplyObject(r);
		if (!ok) {
			rc = DB_CACHE_DOWN;
			goto out;
		}
		if (!loaded) {
			rc = DB_UNCHANGED; /* someone else loaded it meanwhile */
			goto out;
		}
	} while (i < n);
	rc = DB_OK;
out:
	free(argv);
	free(nums);
	json_decref(rows);
	return rc;
}

/* The text of integer field name of row. */
static void activity_field(json_t *row, const char *name, char out[24])
{
	snprintf(out, 24, "%lld", (long long)json_integer_value(json_object_get(row, name)));
}

int activity_cache_load(struct db *db, struct cache *c, long long id)
{
	char info[ACTIVITY_KEY_MAX], stock[ACTIVITY_KEY_MAX], users[ACTIVITY_KEY_MAX], sid[24];
	char f[9][24];
	json_t *row = NULL;
	redisReply *r = NULL;

	activity_key(info, sizeof info, id, AK_INFO, NULL);
	activity_key(stock, sizeof stock, id, AK_STOCK, NULL);
	activity_key(users, sizeof users, id, AK_USERS, NULL);
	r = cache_command(c, "EXISTS %s", info);
	if (!r)
		return DB_CACHE_DOWN;
	int there = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	freeReplyObject(r);
	r = NULL;
	if (there)
		return DB_UNCHANGED;

	int rc =
	    db_query_row(db, &row,
			 "SELECT start_time, end_time, per_user_limit, seckill_price, "
			 "product_id, status, stock, "
			 "IF(status = 0, stock - sold - returned, 0) AS remaining, "
			 "end_time + ? AS keep_until FROM flashsale_seckill.activity WHERE id = ?",
			 "ii", (long long)ACTIVITY_KEEP, id);
	if (rc)
		return rc;
	if (!row)
		return DB_NOT_FOUND;
	rc = activity_load_users(db, c, id, info, users);
	if (rc)
		goto out;
	static const char *const names[] = {"start_time",    "end_time",   "per_user_limit",
					    "seckill_price", "product_id", "status",
					    "stock",         "remaining",  "keep_until"};
	const char *argv[12] = {info, stock, users};
	for (int i = 0; i < 9; i++) {
		activity_field(row, names[i], f[i]);
		argv[3 + i] = f[i];
	}
	r = cache_eval(c, &activity_info_script, 3, 12, argv);
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		rc = DB_CACHE_DOWN;
		goto out;
	}
	rc = r->integer == 1 ? DB_CHANGED : DB_UNCHANGED;
	freeReplyObject(r);
	r = NULL;
	/* The group starts at 0 so no intent added before a writer first looks is skipped. */
	activity_key(info, sizeof info, id, AK_INTENTS, NULL);
	r = cache_command(c, "XGROUP CREATE %s %s 0 MKSTREAM", info, ACTIVITY_GROUP);
	if (r)
		freeReplyObject(r);
	r = NULL;
	snprintf(sid, sizeof sid, "%lld", id);
	if (json_integer_value(json_object_get(row, "status")) == ACTIVITY_LIVE)
		r = cache_command(c, "SADD %s %s", ACTIVITY_LIVE_KEY, sid);
	if (rc == DB_CHANGED)
		log_info("activity %lld loaded into Redis", id);
out:
	if (r)
		freeReplyObject(r);
	json_decref(row);
	return rc;
}

int activity_cache_close(struct cache *c, long long id, int status)
{
	char info[64], stock[64], st[8];
	activity_key(info, sizeof info, id, AK_INFO, NULL);
	activity_key(stock, sizeof stock, id, AK_STOCK, NULL);
	snprintf(st, sizeof st, "%d", status);
	const char *argv[] = {info, stock, st};
	redisReply *r = cache_eval(c, &activity_close_script, 2, 3, argv);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

int activity_close(struct db *db, struct cache *c, long long id, int status, long long *unsold)
{
	json_t *row = NULL;
	int rc = db_begin(db);
	if (rc)
		return rc;
	rc = db_query_row(db, &row,
			  "SELECT status, product_id, stock - sold - returned AS unsold "
			  "FROM flashsale_seckill.activity WHERE id = ? FOR UPDATE",
			  "i", id);
	if (rc)
		goto fail;
	if (!row) {
		rc = DB_NOT_FOUND;
		goto fail;
	}
	if (json_integer_value(json_object_get(row, "status")) != ACTIVITY_LIVE) {
		rc = DB_UNCHANGED;
		goto fail;
	}
	long long product_id = json_integer_value(json_object_get(row, "product_id"));
	*unsold = json_integer_value(json_object_get(row, "unsold"));
	rc = db_exec(db,
		     "UPDATE flashsale_seckill.activity SET status = ?, returned = returned + ?, "
		     "version = version + 1, update_time = UNIX_TIMESTAMP() "
		     "WHERE id = ? AND status = 0",
		     "iii", (long long)status, *unsold, id);
	if (rc)
		goto fail;
	if (db_affected_rows(db) != 1) {
		rc = DB_UNCHANGED;
		goto fail;
	}
	rc = stock_product_return(db, product_id, *unsold);
	if (rc)
		goto fail;
	rc = db_commit(db);
	if (rc)
		goto fail;
	json_decref(row);
	stock_product_uncache(c, product_id);
	if (activity_cache_close(c, id, status) < 0)
		log_warn("activity %lld closed in MySQL, Redis not updated (reconcile repairs it)",
			 id);
	log_info("activity %lld closed (status %d), %lld unsold units returned to product %lld", id,
		 status, *unsold, product_id);
	return DB_CHANGED;
fail:
	db_rollback(db);
	json_decref(row);
	return rc;
}

/* The marker path of an activity. */
static int activity_marker_path(char *out, size_t len, const char *dir, long long id)
{
	int n = snprintf(out, len, "%s/%lld", dir, id);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int activity_marker_set(const char *dir, long long id)
{
	char path[512];
	if (!dir || !*dir || activity_marker_path(path, sizeof path, dir, id) < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	mkdir(dir, 0755); /* normally made by the installer; harmless if it exists */
	FILE *fp = fopen(path, "w");
	if (!fp) {
		log_warn("sold-out marker %s: %s", path, strerror(errno));
		return -1;
	}
	fputs("{\"code\":600004,\"msg\":\"sold out\"}\n", fp);
	fclose(fp);
	chmod(path, 0644);
	return 0;
}

int activity_marker_clear(const char *dir, long long id)
{
	char path[512];
	if (!dir || !*dir || activity_marker_path(path, sizeof path, dir, id) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}
