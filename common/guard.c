/* guard.c - anti-scalper rules: activity rules, reservations, blocklist, address caps in Redis. */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "log.h"

#define GUARD_CHUNK      500         /* members per Redis call when loading */
#define GUARD_KEEP       (7 * 86400) /* Redis state outlives the activity's end by a week */
#define GUARD_BLOCK_KEY  "{bl}:blocklist"
#define GUARD_BLOCK_NEXT "{bl}:blocklist:next"
#define GUARD_LOADED     "0" /* the member (or field) that says "loaded from MySQL" */

/* Store the rules hash and its expiry. ARGV[1] the expiry, then field/value pairs. */
static struct cache_script guard_rules_script = {
    .src = "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
	   "redis.call('EXPIREAT', KEYS[1], ARGV[1])\n"
	   "return 1\n",
};

/* An account counted against an address's cap. ARGV: uid, cap, expiry. 1 counted, 0 full. */
static struct cache_script guard_address_script = {
    .src = "if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end\n"
	   "if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end\n"
	   "redis.call('SADD', KEYS[1], ARGV[1])\n"
	   "redis.call('EXPIREAT', KEYS[1], ARGV[3])\n"
	   "return 1\n",
};

/* Map a db_rc to a guard_rc. */
static int guard_db_rc(int rc)
{
	return rc == DB_DOWN ? GUARD_DOWN : GUARD_ERR;
}

/* Integer element i of an array reply (strings parsed), or -1 when nil. */
static long long guard_elem(redisReply *r, size_t i)
{
	redisReply *e = r->element[i];
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type == REDIS_REPLY_STRING)
		return strtoll(e->str, NULL, 10);
	return -1;
}

/* Load the rules of aid from MySQL into Redis and out. */
static int guard_rules_load(struct db *db, struct cache *c, long long aid, const char *key,
			    struct guard_rules *out)
{
	json_t *row = NULL;
	char v[7][24];
	int rc =
	    db_query_row(db, &row,
			 "SELECT start_time, end_time + ? AS keep_until, pow_difficulty, "
			 "require_reservation, min_account_age, max_accounts_per_address, "
			 "require_verified_mobile FROM flashsale_seckill.activity WHERE id = ?",
			 "ii", (long long)GUARD_KEEP, aid);
	if (rc)
		return guard_db_rc(rc);
	if (!row)
		return GUARD_NOT_FOUND;
#define COL(name) ((long long)json_integer_value(json_object_get(row, name)))
	out->start = COL("start_time");
	out->keep = COL("keep_until");
	out->pow = COL("pow_difficulty");
	out->reservation = COL("require_reservation") != 0;
	out->min_age = COL("min_account_age");
	out->addr_cap = COL("max_accounts_per_address");
	out->verified = COL("require_verified_mobile") != 0;
#undef COL
	json_decref(row);
	long long vals[7] = {out->start,   out->keep,     out->pow,     out->reservation,
			     out->min_age, out->addr_cap, out->verified};
	for (int i = 0; i < 7; i++)
		snprintf(v[i], sizeof v[i], "%lld", vals[i]);
	const char *argv[] = {key,   v[1], "start", v[0], "keep", v[1], "pow",      v[2],
			      "res", v[3], "age",   v[4], "addr", v[5], "verified", v[6]};
	redisReply *r = cache_eval(c, &guard_rules_script, 1, 16, argv);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	if (!ok)
		log_warn("activity %lld: rules not cached in Redis", aid);
	return GUARD_OK; /* the rules are known even if caching them failed */
}

int guard_rules_get(struct db *db, struct cache *c, long long aid, struct guard_rules *out)
{
	char key[ACTIVITY_KEY_MAX];
	activity_key(key, sizeof key, aid, AK_RULES, NULL);
	redisReply *r = cache_command(c, "HMGET %s start keep pow res age addr verified", key);
	if (!r)
		return GUARD_DOWN;
	int hit = r->type == REDIS_REPLY_ARRAY && r->elements == 7 && guard_elem(r, 0) >= 0;
	if (hit) {
		out->start = guard_elem(r, 0);
		out->keep = guard_elem(r, 1);
		out->pow = guard_elem(r, 2);
		out->reservation = guard_elem(r, 3) == 1;
		out->min_age = guard_elem(r, 4);
		out->addr_cap = guard_elem(r, 5);
		out->verified = guard_elem(r, 6) == 1;
	}
	freeReplyObject(r);
	return hit ? GUARD_OK : guard_rules_load(db, c, aid, key, out);
}

/* A reply that is not an error (freed). 0 or -1. */
static int guard_ok(redisReply *r)
{
	int ok = r && r->type != REDIS_REPLY_ERROR;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/* SADD members argv[2..argc) to key argv[1] (argv[0] is "SADD"). 0 or -1. */
static int guard_sadd(struct cache *c, int argc, const char **argv)
{
	redisReply *r = cache_commandv(c, argc, argv, NULL);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

int guard_reservations_load(struct db *db, struct cache *c, long long aid, long long keep)
{
	char key[ACTIVITY_KEY_MAX], (*ids)[24] = NULL;
	const char **argv = NULL;
	json_t *rows = NULL;
	int rc = db_query(db, &rows,
			  "SELECT user_id FROM flashsale_seckill.reservation WHERE activity_id = ?",
			  "i", aid);
	if (rc)
		return guard_db_rc(rc);
	activity_key(key, sizeof key, aid, AK_RESERVED, NULL);
	size_t n = json_array_size(rows), i = 0;
	argv = malloc((2 + GUARD_CHUNK) * sizeof *argv);
	ids = malloc(GUARD_CHUNK * sizeof *ids);
	rc = GUARD_ERR;
	if (!argv || !ids)
		goto out;
	argv[0] = "SADD";
	argv[1] = key;
	rc = GUARD_DOWN;
	while (i < n) {
		int argc = 2;
		for (int k = 0; i < n && k < GUARD_CHUNK; i++, k++) {
			json_t *row = json_array_get(rows, i);
			snprintf(ids[k], sizeof ids[k], "%lld",
				 (long long)json_integer_value(json_object_get(row, "user_id")));
			argv[argc++] = ids[k];
		}
		if (guard_sadd(c, argc, argv) < 0)
			goto out;
	}
	/* The marker goes last: a set without it is never taken as complete. */
	argv[2] = GUARD_LOADED;
	if (guard_sadd(c, 3, argv) < 0 ||
	    guard_ok(cache_command(c, "EXPIREAT %s %lld", key, keep)) < 0)
		goto out;
	rc = GUARD_OK;
out:
	free(argv);
	free(ids);
	json_decref(rows);
	return rc;
}

int guard_reserved(struct db *db, struct cache *c, const struct guard_rules *rules, long long aid,
		   long long uid)
{
	char key[ACTIVITY_KEY_MAX];
	activity_key(key, sizeof key, aid, AK_RESERVED, NULL);
	for (int pass = 0; pass < 2; pass++) {
		redisReply *r = cache_command(c, "SMISMEMBER %s %s %lld", key, GUARD_LOADED, uid);
		if (!r)
			return GUARD_DOWN;
		int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2;
		long long loaded = ok ? guard_elem(r, 0) : -1, member = ok ? guard_elem(r, 1) : -1;
		freeReplyObject(r);
		if (!ok)
			return GUARD_ERR;
		if (loaded == 1 || member == 1)
			return member == 1;
		if (pass == 0) {
			int rc = guard_reservations_load(db, c, aid, rules->keep);
			if (rc != GUARD_OK)
				return rc;
		}
	}
	return 0;
}

int guard_reservation_add(struct cache *c, long long aid, long long uid)
{
	char key[ACTIVITY_KEY_MAX];
	activity_key(key, sizeof key, aid, AK_RESERVED, NULL);
	redisReply *r = cache_command(c, "SADD %s %lld", key, uid);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

int guard_blocklist_field(char *out, size_t len, const char *kind, const char *value)
{
	int n = snprintf(out, len, "%s:%s", kind, value);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int guard_blocklist_cache(struct cache *c, const char *field, const char *reason)
{
	redisReply *r = reason ? cache_command(c, "HSET %s %s %s", GUARD_BLOCK_KEY, field, reason)
			       : cache_command(c, "HDEL %s %s", GUARD_BLOCK_KEY, field);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

int guard_blocklist_load(struct db *db, struct cache *c)
{
	json_t *rows = NULL, *row;
	size_t i;
	int rc = db_query(
	    db, &rows, "SELECT kind, value, reason FROM flashsale_seckill.blocklist LIMIT 1000000",
	    "");
	if (rc)
		return guard_db_rc(rc);
	rc = GUARD_DOWN;
	if (guard_ok(cache_command(c, "DEL %s", GUARD_BLOCK_NEXT)) < 0)
		goto out;
	json_array_foreach(rows, i, row)
	{
		char field[96];
		if (guard_blocklist_field(field, sizeof field,
					  json_string_value(json_object_get(row, "kind")),
					  json_string_value(json_object_get(row, "value"))) < 0)
			continue;
		if (guard_ok(cache_command(c, "HSET %s %s %s", GUARD_BLOCK_NEXT, field,
					   json_string_value(json_object_get(row, "reason")))) < 0)
			goto out;
	}
	/* Built aside and renamed: a reader sees the old list or the new one, never half. */
	if (guard_ok(cache_command(c, "HSET %s _loaded 1", GUARD_BLOCK_NEXT)) < 0 ||
	    guard_ok(cache_command(c, "RENAME %s %s", GUARD_BLOCK_NEXT, GUARD_BLOCK_KEY)) < 0)
		goto out;
	rc = GUARD_OK;
out:
	json_decref(rows);
	return rc;
}

int guard_blocked(struct db *db, struct cache *c, long long uid, const char *mobile,
		  const char *addr, char *what, size_t len)
{
	char fu[48], fm[96], fa[96];
	snprintf(fu, sizeof fu, "user:%lld", uid);
	if (guard_blocklist_field(fm, sizeof fm, "mobile", mobile ? mobile : "") < 0 ||
	    guard_blocklist_field(fa, sizeof fa, "address", addr ? addr : "") < 0)
		return GUARD_ERR;
	for (int pass = 0; pass < 2; pass++) {
		redisReply *r =
		    cache_command(c, "HMGET %s _loaded %s %s %s", GUARD_BLOCK_KEY, fu, fm, fa);
		if (!r)
			return GUARD_DOWN;
		int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 4;
		int loaded = ok && r->element[0]->type == REDIS_REPLY_STRING;
		static const char *const kinds[] = {"user", "mobile", "address"};
		int hit = -1;
		for (int k = 0; ok && k < 3; k++)
			if (r->element[k + 1]->type == REDIS_REPLY_STRING && hit < 0)
				hit = k;
		freeReplyObject(r);
		if (!ok)
			return GUARD_ERR;
		if (hit >= 0) {
			snprintf(what, len, "%s", kinds[hit]);
			return 1;
		}
		if (loaded)
			return 0;
		if (pass == 0) {
			int rc = guard_blocklist_load(db, c);
			if (rc != GUARD_OK)
				return rc;
		}
	}
	return 0;
}

int guard_address_take(struct cache *c, const struct guard_rules *rules, long long aid,
		       const char *addr, long long uid)
{
	char key[ACTIVITY_KEY_MAX], u[24], cap[24], keep[24];
	if (activity_key(key, sizeof key, aid, AK_ADDR, addr ? addr : "") < 0)
		return GUARD_DOWN;
	snprintf(u, sizeof u, "%lld", uid);
	snprintf(cap, sizeof cap, "%lld", rules->addr_cap);
	snprintf(keep, sizeof keep, "%lld", rules->keep);
	const char *argv[] = {key, u, cap, keep};
	redisReply *r = cache_eval(c, &guard_address_script, 1, 4, argv);
	int rc = r && r->type == REDIS_REPLY_INTEGER ? (int)r->integer : GUARD_DOWN;
	if (r)
		freeReplyObject(r);
	return rc;
}

int guard_challenge_use(struct cache *c, long long aid, const char *challenge, long long expires)
{
	char key[ACTIVITY_KEY_MAX];
	if (activity_key(key, sizeof key, aid, AK_POW, challenge) < 0)
		return GUARD_DOWN;
	redisReply *r = cache_command(c, "SET %s 1 NX EXAT %lld", key, expires);
	if (!r)
		return GUARD_DOWN;
	int first = r->type == REDIS_REPLY_STATUS;
	int err = r->type == REDIS_REPLY_ERROR;
	freeReplyObject(r);
	return err ? GUARD_DOWN : first;
}
