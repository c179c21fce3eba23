/* result.c - /seckill/result: queued, success (with the order sn) or failed, to its owner only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "seckill.h"

/* The activity id of a request id "<activityId>-<32 hex>", or -1 if it is not one. */
static long long result_activity(const char *rid)
{
	size_t digits = strspn(rid, "0123456789");
	if (digits == 0 || digits > 18 || rid[digits] != '-')
		return -1;
	const char *hex = rid + digits + 1;
	if (strlen(hex) != 32 || strspn(hex, "0123456789abcdef") != 32)
		return -1;
	return strtoll(rid, NULL, 10);
}

/*
 * The order of request rid in MySQL, if any: success with its sn; else E_SECKILL_REQUEST_NOT_FOUND
 * or, when Redis still holds the queued record, queued (the writer has not written it yet).
 */
static int result_from_orders(struct app *app, struct http_req *req, const char *rid, int queued)
{
	json_t *row = NULL;
	int rc = db_query_row(app->db, &row,
			      "SELECT sn FROM flashsale_order.orders WHERE request_id = ? AND "
			      "user_id = ?",
			      "si", rid, req->claims.user_id);
	if (rc && !queued)
		return err_from_db(rc);
	if (!row) { /* with a queued record and MySQL unreachable: still queued, as far as known */
		if (!queued)
			return E_SECKILL_REQUEST_NOT_FOUND;
		req->data = json_pack("{s:s}", "status", "queued");
		return req->data ? 0 : E_SERVER;
	}
	req->data =
	    json_pack("{s:s,s:O}", "status", "success", "orderSn", json_object_get(row, "sn"));
	json_decref(row);
	return req->data ? 0 : E_SERVER;
}

/* Remember a queued record's success in Redis, so the next poll needs no MySQL (best effort). */
static void result_note_success(struct app *app, struct http_req *req, const char *key)
{
	json_t *sn = json_object_get(req->data, "orderSn");
	char rec[128];
	if (!json_is_string(sn))
		return;
	snprintf(rec, sizeof rec, "%lld success %s", req->claims.user_id, json_string_value(sn));
	redisReply *r = cache_command(app->cache, "SET %s %s XX KEEPTTL", key, rec);
	if (r)
		freeReplyObject(r);
}

/* The string value of field name in an HGETALL reply, or NULL. */
static const char *result_field(redisReply *r, const char *name)
{
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    !strcmp(r->element[i]->str, name) &&
		    r->element[i + 1]->type == REDIS_REPLY_STRING)
			return r->element[i + 1]->str;
	return NULL;
}

/* The answer for a record of the hash form ({uid, status, sn | reason}: records written before
 * the string form, or by the tests' fixtures), read with HGETALL. */
static int result_from_hash(struct app *app, struct http_req *req, const char *key, const char *rid)
{
	int rc;
	redisReply *r = cache_command(app->cache, "HGETALL %s", key);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
		if (r)
			freeReplyObject(r);
		return result_from_orders(app, req, rid, 0);
	}
	const char *uid = result_field(r, "uid");
	const char *status = result_field(r, "status");
	if (!uid || !status || strtoll(uid, NULL, 10) != req->claims.user_id) {
		rc = E_SECKILL_REQUEST_NOT_FOUND;
		goto out;
	}
	if (!strcmp(status, "success"))
		req->data = json_pack("{s:s,s:s}", "status", status, "orderSn",
				      result_field(r, "sn") ? result_field(r, "sn") : "");
	else if (!strcmp(status, "failed"))
		req->data = json_pack("{s:s,s:s}", "status", status, "reason",
				      result_field(r, "reason") ? result_field(r, "reason") : "");
	else if (!strcmp(status, "queued")) {
		rc = result_from_orders(app, req, rid, 1); /* a success's record stays queued */
		goto out;
	} else
		req->data = json_pack("{s:s}", "status", status);
	rc = req->data ? 0 : E_SERVER;
out:
	freeReplyObject(r);
	return rc;
}

/*
 * The answer for a record "<uid> <status>[ <sn or reason>]" (lua/purchase.lua, finish.lua): a
 * queued one is looked up in MySQL, where the writer's success is.
 */
static int result_from_string(struct app *app, struct http_req *req, const char *key,
			      const char *rid, const char *rec)
{
	char *end;
	long long uid = strtoll(rec, &end, 10);
	if (end == rec || *end != ' ' || uid != req->claims.user_id)
		return E_SECKILL_REQUEST_NOT_FOUND;
	const char *status = end + 1;
	size_t len = strcspn(status, " ");
	const char *text = status[len] ? status + len + 1 : "";
	if (len == 7 && !strncmp(status, "success", len))
		req->data = json_pack("{s:s,s:s}", "status", "success", "orderSn", text);
	else if (len == 6 && !strncmp(status, "failed", len))
		req->data = json_pack("{s:s,s:s}", "status", "failed", "reason", text);
	else if (len == 6 && !strncmp(status, "queued", len)) {
		int rc = result_from_orders(app, req, rid, 1);
		if (rc == 0)
			result_note_success(app, req, key);
		return rc;
	} else
		return E_SECKILL_REQUEST_NOT_FOUND;
	return req->data ? 0 : E_SERVER;
}

int seckill_result(struct app *app, struct http_req *req)
{
	const char *rid;
	char key[128];
	int rc = param_str(req, "requestId", 1, 1, 64, &rid);
	if (rc)
		return rc;
	long long id = result_activity(rid);
	if (id < 0)
		return E_SECKILL_REQUEST_NOT_FOUND;
	activity_key(key, sizeof key, id, AK_REQ, rid);
	redisReply *r = cache_command(app->cache, "GET %s", key);
	if (r && r->type == REDIS_REPLY_STRING)
		rc = result_from_string(app, req, key, rid, r->str);
	else if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "WRONGTYPE", 9))
		rc = result_from_hash(app, req, key, rid);
	else
		rc = result_from_orders(app, req, rid, 0); /* expired, or Redis down */
	if (r)
		freeReplyObject(r);
	return rc;
}
