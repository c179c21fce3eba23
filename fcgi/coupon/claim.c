/* claim.c - /coupon/claim: ordinary templates at once (guarded update), flash templates through
 * one atomic Lua script in Redis (the flash-sale path) and the coupon-writer; /coupon/result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coupon-fcgi.h"
#include "ids.h"
#include "log.h"
#include "memo.h"
#include "metrics.h"

/*
 * The flash claim, atomically. KEYS: info, left, users, claims (stream), req.
 * ARGV: uid, now, requestId, request ttl.
 * Returns {0, left} queued; {-1} not loaded; {-2} not started; {-3} stopped or ended;
 * {-4} all claimed; {-5, held} per-user limit; {1} this request id is known already.
 * A coupon is taken from left if and only if the claim is added to the stream.
 */
static struct cache_script claim_script = {
    .src = "local info = redis.call('HMGET', KEYS[1], 'start', 'end', 'limit', 'status')\n"
	   "if not info[1] then return {-1} end\n"
	   "if info[4] ~= '0' then return {-3} end\n"
	   "local now = tonumber(ARGV[2])\n"
	   "if now < tonumber(info[1]) then return {-2} end\n"
	   "local e = tonumber(info[2])\n"
	   "if e > 0 and now >= e then return {-3} end\n"
	   "if redis.call('EXISTS', KEYS[5]) == 1 then return {1} end\n"
	   "local left = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
	   "if left <= 0 then return {-4, 0} end\n"
	   "local have = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')\n"
	   "if have >= tonumber(info[3]) then return {-5, have} end\n"
	   "redis.call('DECR', KEYS[2])\n"
	   "redis.call('HINCRBY', KEYS[3], ARGV[1], 1)\n"
	   "redis.call('XADD', KEYS[4], '*', 'rid', ARGV[3], 'uid', ARGV[1], 'ts', ARGV[2])\n"
	   "redis.call('HSET', KEYS[5], 'uid', ARGV[1], 'status', 'queued')\n"
	   "redis.call('EXPIRE', KEYS[5], ARGV[4])\n"
	   "return {0, left - 1}\n",
};

/* Flash templates remembered as all claimed (per process). */
static struct memo claimed_out;

/* Outcomes of flash claims, counted in the shared metrics. */
enum claim_outcome { CLAIM_QUEUED, CLAIM_ALL, CLAIM_ALL_MEMO, CLAIM_LIMIT, CLAIM_CLOSED, CLAIMS };
static int claim_slots[CLAIMS] = {-1, -1, -1, -1, -1};

/* Count one flash claim outcome. */
static void claim_count(int outcome)
{
	if (claim_slots[outcome] >= 0)
		metrics_add(claim_slots[outcome], 1);
}

/* An ordinary template: one guarded transaction (coupon_grant). */
static int claim_now(struct app *app, struct http_req *req, long long id)
{
	long long coupon_id = 0;
	int rc = db_begin(app->db);
	if (rc)
		return coupon_code_of(req, rc, NULL);
	rc = coupon_grant(app->db, id, req->claims.user_id, "claim", NULL, 1, &coupon_id);
	if (rc) {
		db_rollback(app->db);
		return coupon_code_of(req, rc, rc == COUPON_CLOSED ? "template stopped" : NULL);
	}
	if ((rc = db_commit(app->db)))
		return coupon_code_of(req, rc, NULL);
	req->data = json_pack("{s:I}", "couponId", (json_int_t)coupon_id);
	return 0;
}

/* Run the flash script: 0 with the answer, 1 when the template is not in Redis, or a code. */
static int claim_flash(struct app *app, struct http_req *req, long long id, const char *rid)
{
	char info[64], left[64], users[64], stream[64], reqkey[128], uid[24], now[24], ttl[24];
	int rc = E_SERVER;

	coupon_key(info, sizeof info, id, "info");
	coupon_key(left, sizeof left, id, "left");
	coupon_key(users, sizeof users, id, "users");
	coupon_key(stream, sizeof stream, id, "claims");
	snprintf(reqkey, sizeof reqkey, "{c:%lld}:req:%s", id, rid);
	snprintf(uid, sizeof uid, "%lld", req->claims.user_id);
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	snprintf(ttl, sizeof ttl, "%ld", app->cfg.coupon_request_ttl);
	const char *argv[] = {info, left, users, stream, reqkey, uid, now, rid, ttl};
	redisReply *r = cache_eval(app->cache, &claim_script, 5, 9, argv);
	if (!r)
		return E_DB_BUSY;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		log_error("coupon claim script: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
		rc = r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "LOADING", 7) ? E_DB_BUSY
										    : E_SERVER;
		goto out;
	}
	long long code = r->element[0]->integer;
	long long arg = r->elements > 1 ? r->element[1]->integer : 0;
	switch (code) {
	case 0:
	case 1:
		req->data = json_pack("{s:s,s:s}", "requestId", rid, "status", "queued");
		rc = req->data ? 0 : E_SERVER;
		if (code == 0)
			claim_count(CLAIM_QUEUED);
		if (code == 0 && arg == 0)
			memo_set(&claimed_out, id, app->cfg.coupon_soldout_memo_ms);
		break;
	case -1: rc = 1; break;
	case -2:
		claim_count(CLAIM_CLOSED);
		rc = http_fail(req, E_COUPON_CLOSED, "claims not open yet");
		break;
	case -3:
		claim_count(CLAIM_CLOSED);
		rc = http_fail(req, E_COUPON_CLOSED, "template stopped or ended");
		break;
	case -4:
		claim_count(CLAIM_ALL);
		memo_set(&claimed_out, id, app->cfg.coupon_soldout_memo_ms);
		rc = E_COUPON_ALL_CLAIMED;
		break;
	case -5:
		claim_count(CLAIM_LIMIT);
		rc = http_fail(req, E_COUPON_LIMIT, "coupon claim limit reached: %lld held", arg);
		break;
	default: log_error("coupon claim script: unknown answer %lld", code);
	}
out:
	freeReplyObject(r);
	return rc;
}

int coupon_claim(struct app *app, struct http_req *req)
{
	long long id;
	char rid[ID_REQUEST_MAX], hex[33];
	int rc = param_int(req, "templateId", 1, 1, (long long)1 << 53, &id);
	if (rc)
		return rc;
	if (memo_hit(&claimed_out, id)) {
		claim_count(CLAIM_ALL_MEMO);
		return E_COUPON_ALL_CLAIMED;
	}
	id_hex32(hex);
	id_request_new(rid, id, hex);
	/* Flash templates answer from Redis; one not there is either ordinary or not loaded. */
	rc = claim_flash(app, req, id, rid);
	if (rc != 1)
		return rc;
	rc = coupon_flash_load(app, id);
	if (rc == COUPON_NOT_FOUND)
		return claim_now(app, req, id); /* ordinary, or no such template (700001) */
	if (rc)
		return coupon_code_of(req, rc, NULL);
	rc = claim_flash(app, req, id, rid);
	return rc == 1 ? E_SERVER : rc;
}

/* After the Redis record expired: the coupon in MySQL, if any. */
static int result_from_db(struct app *app, struct http_req *req, const char *rid)
{
	json_t *row = NULL;
	int rc = db_query_row(app->db, &row,
			      "SELECT id FROM flashsale_coupon.coupon WHERE request_id = ? AND "
			      "user_id = ?",
			      "si", rid, req->claims.user_id);
	if (rc)
		return coupon_code_of(req, rc, NULL);
	if (!row)
		return http_fail(req, E_COUPON_NOT_FOUND, "claim request not found");
	req->data =
	    json_pack("{s:s,s:O}", "status", "success", "couponId", json_object_get(row, "id"));
	json_decref(row);
	return req->data ? 0 : E_SERVER;
}

int coupon_result(struct app *app, struct http_req *req)
{
	const char *rid;
	char key[128];
	int rc = param_str(req, "requestId", 1, 1, 64, &rid);
	if (rc)
		return rc;
	long long id = id_request_owner(rid);
	if (id < 0)
		return http_fail(req, E_COUPON_NOT_FOUND, "claim request not found");
	snprintf(key, sizeof key, "{c:%lld}:req:%s", id, rid);
	redisReply *r = cache_command(app->cache, "HGETALL %s", key);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
		if (r)
			freeReplyObject(r);
		return result_from_db(app, req, rid);
	}
	const char *uid = cache_field(r, "uid", NULL), *status = cache_field(r, "status", NULL);
	const char *cid = cache_field(r, "couponId", NULL),
		   *reason = cache_field(r, "reason", NULL);
	if (!uid || !status || strtoll(uid, NULL, 10) != req->claims.user_id)
		rc = http_fail(req, E_COUPON_NOT_FOUND, "claim request not found");
	else if (!strcmp(status, "success") && cid)
		req->data = json_pack("{s:s,s:I}", "status", status, "couponId",
				      (json_int_t)strtoll(cid, NULL, 10));
	else if (!strcmp(status, "failed"))
		req->data =
		    json_pack("{s:s,s:s}", "status", status, "reason", reason ? reason : "");
	else
		req->data = json_pack("{s:s}", "status", status);
	freeReplyObject(r);
	return rc ? rc : req->data ? 0 : E_SERVER;
}

int coupon_claim_init(struct app *app)
{
	static const char *const names[CLAIMS] = {"queued", "allclaimed", "allclaimed_memo",
						  "limit", "closed"};
	char labels[64];
	(void)app;
	for (int i = 0; i < CLAIMS; i++) {
		snprintf(labels, sizeof labels, "outcome=\"%s\"", names[i]);
		claim_slots[i] = metrics_define("flashsale_coupon_flash_claims_total", labels,
						"Flash coupon claims by outcome.", 0);
	}
	return 0;
}
