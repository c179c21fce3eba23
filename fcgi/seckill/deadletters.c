/* deadletters.c - what the order-writer and the event consumers gave up on: the gauge
 * flashsale_deadletter_entries{stream} (read at scrape time) and the admin view
 * GET /seckill/v1/admin/deadletters.
 *
 * Intents an order-writer could not write land in their activity's {a:<id>}:dead (the same
 * slot as the intents, so moving one there and returning its units is one script: see
 * lua/finish.lua); ACTIVITY_DEAD_KEY lists those activities. Events land in
 * fs:ev:<topic>:dead, listed by EVENT_DEAD_SET.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "seckill.h"

#define DEAD_LIST_DEFAULT 50
#define DEAD_LIST_MAX     200
#define DEAD_INTENTS      "seckill.intents" /* the stream label of every activity's dead letters */

/* One dead-letter stream: its label, key and, for intents, the activity. */
struct dead_stream {
	char label[EVENT_DEAD_NAME];
	char key[ACTIVITY_KEY_MAX];
	long long activity_id;
};

/* Every dead-letter stream (a new array of *n), or NULL when Redis is down. */
static struct dead_stream *dead_streams(struct app *app, size_t *n)
{
	redisReply *a = cache_command(app->cache, "SMEMBERS %s", ACTIVITY_DEAD_KEY);
	redisReply *e = a ? cache_command(app->cache, "SMEMBERS %s", EVENT_DEAD_SET) : NULL;
	struct dead_stream *v = NULL;
	*n = 0;
	if (!a || !e || a->type != REDIS_REPLY_ARRAY || e->type != REDIS_REPLY_ARRAY)
		goto out;
	v = calloc(a->elements + e->elements + 1, sizeof *v);
	for (size_t i = 0; v && i < a->elements; i++) {
		char *end;
		long long id = a->element[i]->type == REDIS_REPLY_STRING
				   ? strtoll(a->element[i]->str, &end, 10)
				   : 0;
		if (id <= 0 || *end)
			continue;
		struct dead_stream *d = &v[(*n)++];
		snprintf(d->label, sizeof d->label, "%s", DEAD_INTENTS);
		activity_key(d->key, sizeof d->key, id, AK_DEAD, NULL);
		d->activity_id = id;
	}
	for (size_t i = 0; v && i < e->elements; i++) {
		const char *topic =
		    e->element[i]->type == REDIS_REPLY_STRING ? e->element[i]->str : "";
		struct dead_stream *d = &v[*n];
		if (!*topic || strlen(topic) >= sizeof d->label ||
		    event_dead_key(d->key, sizeof d->key, topic) < 0)
			continue;
		snprintf(d->label, sizeof d->label, "%s", topic);
		(*n)++;
	}
out:
	if (a)
		freeReplyObject(a);
	if (e)
		freeReplyObject(e);
	return v;
}

/* XLEN of a key, or -1. */
static long long dead_len(struct app *app, const char *key)
{
	redisReply *r = cache_command(app->cache, "XLEN %s", key);
	long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	if (r)
		freeReplyObject(r);
	return n;
}

int seckill_deadletter_refresh(struct app *app)
{
	size_t n;
	struct dead_stream *v = dead_streams(app, &n);
	char labels[EVENT_DEAD_NAME + 16];
	long long intents = 0;
	int rc = v ? 0 : -1;
	/* Always present, so an alert on it has a series before the first dead letter. */
	int slot = metrics_define("flashsale_deadletter_entries", "stream=\"" DEAD_INTENTS "\"",
				  "Entries in dead-letter streams.", 1);
	for (size_t i = 0; v && i < n; i++) {
		long long len = dead_len(app, v[i].key);
		if (len < 0) {
			rc = -1;
			continue;
		}
		if (v[i].activity_id) {
			intents += len;
			continue;
		}
		snprintf(labels, sizeof labels, "stream=\"%s\"", v[i].label);
		metrics_set(metrics_define("flashsale_deadletter_entries", labels,
					   "Entries in dead-letter streams.", 1),
			    len);
	}
	if (v)
		metrics_set(slot, intents);
	free(v);
	return rc;
}

/* The newest limit entries of a stream as objects of strings (with "id"), or NULL. */
static json_t *dead_entries(struct app *app, const char *key, long long limit)
{
	char count[24];
	snprintf(count, sizeof count, "%lld", limit);
	redisReply *r = cache_command(app->cache, "XREVRANGE %s + - COUNT %s", key, count);
	json_t *list = r && r->type == REDIS_REPLY_ARRAY ? json_array() : NULL;
	for (size_t i = 0; list && i < r->elements; i++) {
		redisReply *en = r->element[i];
		if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 ||
		    en->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		json_t *o = json_pack("{s:s}", "id", en->element[0]->str);
		redisReply *f = en->element[1];
		for (size_t k = 0; o && k + 1 < f->elements; k += 2)
			if (f->element[k]->type == REDIS_REPLY_STRING &&
			    f->element[k + 1]->type == REDIS_REPLY_STRING)
				json_object_set_new(
				    o, f->element[k]->str,
				    json_stringn(f->element[k + 1]->str, f->element[k + 1]->len));
		if (!o || json_array_append_new(list, o) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	if (r)
		freeReplyObject(r);
	return list;
}

int seckill_deadletters(struct app *app, struct http_req *req)
{
	long long limit = DEAD_LIST_DEFAULT;
	size_t n;
	int rc = param_int(req, "limit", 0, 1, DEAD_LIST_MAX, &limit);
	if (rc)
		return rc;
	struct dead_stream *v = dead_streams(app, &n);
	if (!v)
		return E_DB_BUSY;
	json_t *streams = json_array();
	rc = streams ? 0 : E_SERVER;
	for (size_t i = 0; !rc && i < n; i++) {
		long long len = dead_len(app, v[i].key);
		json_t *list = len >= 0 ? dead_entries(app, v[i].key, limit) : NULL;
		json_t *o = list ? json_pack("{s:s,s:s,s:I,s:I,s:o}", "stream", v[i].label, "key",
					     v[i].key, "activityId", (json_int_t)v[i].activity_id,
					     "entries", (json_int_t)len, "list", list)
				 : NULL;
		if (!o || json_array_append_new(streams, o) < 0)
			rc = E_DB_BUSY;
	}
	free(v);
	if (rc) {
		json_decref(streams);
		return rc;
	}
	req->data = json_pack("{s:o}", "streams", streams);
	return req->data ? 0 : E_SERVER;
}
