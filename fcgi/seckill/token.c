/* token.c - /seckill/token: a short-lived HMAC token bound to user, activity and session. */
#include <stdlib.h>
#include <time.h>

#include "activity.h"
#include "guard.h"
#include "seckill-lib.h"
#include "seckill.h"

/* How early before the start a token may be issued (API.md: 5 s). */
#define SECKILL_TOKEN_EARLY 5

/* The window and status of an activity from Redis: 1 found, 0 not loaded, -1 Redis down. */
static int token_window(struct app *app, long long id, long long *start, long long *end,
			long long *status)
{
	char key[64];
	activity_key(key, sizeof key, id, AK_INFO, NULL);
	redisReply *r = cache_command(app->cache, "HMGET %s start end status", key);
	if (!r)
		return -1;
	int found = r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    r->element[1]->type == REDIS_REPLY_STRING &&
		    r->element[2]->type == REDIS_REPLY_STRING;
	if (found) {
		*start = strtoll(r->element[0]->str, NULL, 10);
		*end = strtoll(r->element[1]->str, NULL, 10);
		*status = strtoll(r->element[2]->str, NULL, 10);
	}
	freeReplyObject(r);
	return found;
}

int seckill_token(struct app *app, struct http_req *req)
{
	long long id, start = 0, end = 0, status = 0, now = (long long)time(NULL);
	char token[SECKILL_TOKEN_MAX];
	int rc = param_int(req, "activityId", 1, 1, (long long)1 << 53, &id);
	if (rc)
		return rc;
	int found = token_window(app, id, &start, &end, &status);
	if (found == 0) {
		/* Not preheated (or Redis lost it): load it from MySQL once. */
		rc = activity_cache_load(app->db, app->cache, id);
		if (rc == DB_NOT_FOUND)
			return E_ACTIVITY_NOT_FOUND;
		if (rc != DB_CHANGED && rc != DB_UNCHANGED)
			return err_from_db(rc);
		found = token_window(app, id, &start, &end, &status);
	}
	if (found < 0)
		return E_DB_BUSY;
	if (found == 0)
		return E_ACTIVITY_NOT_FOUND;
	if (status == ACTIVITY_CANCELLED)
		return http_fail(req, E_ACTIVITY_ENDED, "activity cancelled");
	if (status != ACTIVITY_LIVE || now >= end)
		return E_ACTIVITY_ENDED;
	if (now < start - SECKILL_TOKEN_EARLY)
		return http_fail(req, E_ACTIVITY_NOT_STARTED,
				 "activity not started: tokens from %d s before the start",
				 SECKILL_TOKEN_EARLY);
	/* Against scalpers: the challenge first (no I/O to refuse a bot), then the rules. */
	struct guard_rules rules;
	rc = guard_rules_get(app->db, app->cache, id, &rules);
	if (rc != GUARD_OK)
		return seckill_guard_err(rc);
	if ((rc = seckill_challenge_check(app, req, id, &rules, now)) ||
	    (rc = seckill_eligible(app, req, id, &rules)))
		return rc;
	long long exp = now + app->cfg.seckill_token_ttl;
	if (seckill_token_new(app->cfg.seckill_token_secret, req->claims.user_id, id,
			      req->claims.jti, exp, token, sizeof token) < 0)
		return E_TOKEN_GEN;
	req->data = json_pack("{s:s,s:I}", "token", token, "expireAt", (json_int_t)exp);
	return req->data ? 0 : E_SERVER;
}
