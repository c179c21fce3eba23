/* writer-batch.c - one batch of intents: decided and inserted in one MySQL transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.h"
#include "log.h"
#include "seckill-lib.h"
#include "writer.h"

/* Rows of a JSON document parameter, so a batch of any size is one prepared statement. */
#define JT_RID "JSON_TABLE(?, '$[*]' COLUMNS (rid VARCHAR(64) PATH '$.rid')) AS j"
#define JT_AID "JSON_TABLE(?, '$[*]' COLUMNS (aid BIGINT PATH '$.aid')) AS j"
#define JT_AU                                                                                      \
	"JSON_TABLE(?, '$[*]' COLUMNS (aid BIGINT PATH '$.aid', uid BIGINT PATH '$.uid')) AS j"
#define JT_ORDER                                                                                   \
	"JSON_TABLE(?, '$[*]' COLUMNS (sn VARCHAR(40) PATH '$.sn', rid VARCHAR(64) PATH '$.rid', " \
	"uid BIGINT PATH '$.uid', aid BIGINT PATH '$.aid', qty INT PATH '$.qty')) AS j"

/* Intents one batch may hold: writer_batch (at most 10,000) per stream, with room. */
#define BATCH_MAX_INTENTS (1u << 20)

/* An activity of the batch as MySQL has it, locked, with the units this batch adds. */
struct batch_activity {
	long long id, stock, sold, returned, limit, status, added;
};

/* A user's units in one activity (open-addressing table entry). */
struct batch_quota {
	long long aid, uid, units;
	int used;
};

/* The user quota table of a batch. */
struct quota_map {
	struct batch_quota *v;
	size_t mask;
};

void batch_init(struct batch *b)
{
	memset(b, 0, sizeof *b);
	dynbuf_init(&b->buf, BATCH_MAX_INTENTS * sizeof(struct intent));
}

struct intent *batch_add(struct batch *b)
{
	struct intent *it = dynbuf_grow(&b->buf, sizeof *it);
	if (!it)
		return NULL;
	b->v = (struct intent *)b->buf.s;
	b->n++;
	return it;
}

void batch_free(struct batch *b)
{
	dynbuf_free(&b->buf);
	memset(b, 0, sizeof *b);
}

/* The slot of (aid, uid), inserting an empty one. */
static struct batch_quota *quota_slot(struct quota_map *m, long long aid, long long uid)
{
	size_t h =
	    ((size_t)aid * 0x9E3779B97F4A7C15ULL ^ (size_t)uid * 0xC2B2AE3D27D4EB4FULL) & m->mask;
	while (m->v[h].used && (m->v[h].aid != aid || m->v[h].uid != uid))
		h = (h + 1) & m->mask;
	if (!m->v[h].used) {
		m->v[h].used = 1;
		m->v[h].aid = aid;
		m->v[h].uid = uid;
	}
	return &m->v[h];
}

/* The batch's activity with id, or NULL. */
static struct batch_activity *batch_find(struct batch_activity *a, size_t n, long long id)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].id == id)
			return &a[i];
	return NULL;
}

/* Mark intents whose order exists already (replays after a crash) as done. */
static int batch_existing(struct writer *w, struct batch *b, const char *doc)
{
	json_t *rows = NULL, *row;
	size_t i;
	int rc = db_query(w->db, &rows,
			  "SELECT o.request_id AS rid, o.sn FROM flashsale_order.orders o "
			  "WHERE o.request_id IN (SELECT j.rid FROM " JT_RID ")",
			  "s", doc);
	if (rc)
		return rc;
	json_array_foreach(rows, i, row)
	{
		const char *rid = json_string_value(json_object_get(row, "rid"));
		const char *sn = json_string_value(json_object_get(row, "sn"));
		for (size_t k = 0; rid && sn && k < b->n; k++)
			if (b->v[k].outcome == INTENT_NEW && !strcmp(b->v[k].rid, rid)) {
				b->v[k].outcome = INTENT_DONE;
				snprintf(b->v[k].sn, sizeof b->v[k].sn, "%s", sn);
			}
	}
	json_decref(rows);
	return DB_OK;
}

/* Lock the batch's activities and the users' quota rows; fill acts and the quota map. */
static int batch_lock(struct writer *w, const char *doc, struct batch_activity *acts, size_t *nacts,
		      size_t maxacts, struct quota_map *q)
{
	json_t *rows = NULL, *row;
	size_t i;
	int rc = db_query(w->db, &rows,
			  "SELECT id, stock, sold, returned, per_user_limit AS lim, status "
			  "FROM flashsale_seckill.activity WHERE id IN (SELECT j.aid FROM " JT_AID
			  ") ORDER BY id FOR UPDATE",
			  "s", doc);
	if (rc)
		return rc;
	*nacts = 0;
	json_array_foreach(rows, i, row)
	{
		if (*nacts == maxacts)
			break;
		struct batch_activity *a = &acts[(*nacts)++];
		a->id = json_integer_value(json_object_get(row, "id"));
		a->stock = json_integer_value(json_object_get(row, "stock"));
		a->sold = json_integer_value(json_object_get(row, "sold"));
		a->returned = json_integer_value(json_object_get(row, "returned"));
		a->limit = json_integer_value(json_object_get(row, "lim"));
		a->status = json_integer_value(json_object_get(row, "status"));
		a->added = 0;
	}
	json_decref(rows);
	rc = db_query(w->db, &rows,
		      "SELECT q.activity_id AS aid, q.user_id AS uid, q.units FROM " JT_AU
		      " JOIN flashsale_seckill.user_quota q ON q.activity_id = j.aid AND "
		      "q.user_id = j.uid FOR UPDATE",
		      "s", doc);
	if (rc)
		return rc;
	json_array_foreach(rows, i, row)
	{
		struct batch_quota *s =
		    quota_slot(q, json_integer_value(json_object_get(row, "aid")),
			       json_integer_value(json_object_get(row, "uid")));
		s->units = json_integer_value(json_object_get(row, "units"));
	}
	json_decref(rows);
	return DB_OK;
}

/* Decide each new intent in stream order against the locked truth. */
static void batch_decide(struct batch *b, struct batch_activity *acts, size_t nacts,
			 struct quota_map *q)
{
	for (size_t i = 0; i < b->n; i++) {
		struct intent *it = &b->v[i];
		if (it->outcome != INTENT_NEW)
			continue;
		struct batch_activity *a = batch_find(acts, nacts, it->aid);
		if (!a) {
			it->outcome = INTENT_REJECT_KEEP;
			it->reason = REASON_ACTIVITY_NOT_FOUND;
			continue;
		}
		if (a->status != ACTIVITY_LIVE) {
			it->outcome = INTENT_REJECT_KEEP;
			it->reason = REASON_ACTIVITY_CLOSED;
			continue;
		}
		if (it->qty <= 0 || a->sold + a->returned + a->added + it->qty > a->stock) {
			it->outcome = INTENT_REJECT_KEEP;
			it->reason = REASON_SOLD_OUT;
			continue;
		}
		struct batch_quota *s = quota_slot(q, it->aid, it->uid);
		if (s->units + it->qty > a->limit) {
			it->outcome = INTENT_REJECT_RETURN;
			it->reason = REASON_LIMIT_REACHED;
			continue;
		}
		s->units += it->qty;
		a->added += it->qty;
		it->outcome = INTENT_ACCEPT;
		id_sn_new(it->sn, sizeof it->sn, "ORD");
	}
}

/* Write the accepted intents: sold counts (guarded), quotas and the orders. */
static int batch_insert(struct writer *w, struct batch *b, struct batch_activity *acts,
			size_t nacts)
{
	json_t *doc = json_array();
	char *text = NULL;
	int rc = DB_OK;
	long long now = (long long)time(NULL);

	for (size_t i = 0; i < b->n; i++) {
		struct intent *it = &b->v[i];
		/* A row dropped for want of memory would be an order lost: fail the batch. */
		if (it->outcome == INTENT_ACCEPT &&
		    (!doc ||
		     json_array_append_new(doc, json_pack("{s:s,s:s,s:I,s:I,s:I}", "sn", it->sn,
							  "rid", it->rid, "uid", it->uid, "aid",
							  it->aid, "qty", it->qty)) < 0)) {
			rc = DB_ERR;
			goto out;
		}
	}
	if (json_array_size(doc) == 0)
		goto out;
	text = json_dumps(doc, JSON_COMPACT);
	if (!text) {
		rc = DB_ERR;
		goto out;
	}
	for (size_t i = 0; i < nacts; i++) {
		if (!acts[i].added)
			continue;
		rc = db_exec(w->db,
			     "UPDATE flashsale_seckill.activity SET sold = sold + ?, version = "
			     "version + 1, update_time = UNIX_TIMESTAMP() "
			     "WHERE id = ? AND status = 0 AND sold + returned + ? <= stock",
			     "iii", acts[i].added, acts[i].id, acts[i].added);
		if (rc)
			goto out;
		if (db_affected_rows(w->db) != 1) {
			log_error("activity %lld: guarded sold update refused", acts[i].id);
			rc = DB_ERR;
			goto out;
		}
	}
	rc = db_exec(w->db,
		     "INSERT INTO flashsale_seckill.user_quota (activity_id, user_id, units) "
		     "SELECT j.aid, j.uid, SUM(j.qty) FROM " JT_ORDER " GROUP BY j.aid, j.uid "
		     "ON DUPLICATE KEY UPDATE units = units + VALUES(units)",
		     "s", text);
	if (rc)
		goto out;
	rc = db_exec(
	    w->db,
	    "INSERT INTO flashsale_order.orders (sn, request_id, user_id, product_id, "
	    "activity_id, order_type, merchant_id, title, cover, quantity, unit_price, "
	    "total_price, trade_state, pay_deadline, create_time, update_time) "
	    "SELECT j.sn, j.rid, j.uid, a.product_id, a.id, 1, a.merchant_id, a.title, "
	    "a.cover, j.qty, a.seckill_price, a.seckill_price * j.qty, 0, ?, ?, ? FROM " JT_ORDER
	    " JOIN flashsale_seckill.activity a ON a.id = j.aid",
	    "iiis", now + w->cfg.order_pay_timeout, now, now, text);
	if (rc)
		goto out;
	if (db_affected_rows(w->db) != (long long)json_array_size(doc)) {
		log_error("order insert wrote %lld of %zu rows", db_affected_rows(w->db),
			  json_array_size(doc));
		rc = DB_ERR;
		goto out;
	}
	b->accepted = (long long)json_array_size(doc);
out:
	free(text);
	json_decref(doc);
	return rc;
}

int batch_write(struct writer *w, struct batch *b)
{
	json_t *doc = json_array();
	char *text = NULL;
	struct batch_activity *acts = NULL;
	struct quota_map q = {0};
	size_t nacts = 0, size = 64;
	int rc = DB_OK;

	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].outcome == INTENT_NEW &&
		    (!doc || json_array_append_new(doc, json_pack("{s:s,s:I,s:I}", "rid",
								  b->v[i].rid, "aid", b->v[i].aid,
								  "uid", b->v[i].uid)) < 0)) {
			rc = DB_ERR;
			goto out;
		}
	if (json_array_size(doc) == 0)
		goto out;
	while (size < 2 * b->n)
		size *= 2;
	text = json_dumps(doc, JSON_COMPACT);
	acts = calloc(b->n, sizeof *acts);
	q.v = calloc(size, sizeof *q.v);
	q.mask = size - 1;
	if (!text || !acts || !q.v) {
		rc = DB_ERR;
		goto out;
	}
	rc = db_begin(w->db);
	if (rc) {
		log_warn("order batch of %zu waits: MySQL unavailable", b->n);
		goto out;
	}
	if ((rc = batch_existing(w, b, text)) || (rc = batch_lock(w, text, acts, &nacts, b->n, &q)))
		goto fail;
	batch_decide(b, acts, nacts, &q);
	if ((rc = batch_insert(w, b, acts, nacts)) || (rc = db_commit(w->db)))
		goto fail;
	goto out;
fail:
	db_rollback(w->db);
	/* Decisions are redone on the retry. */
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].outcome != INTENT_SKIP)
			b->v[i].outcome = INTENT_NEW;
	b->accepted = 0;
	log_warn("order batch of %zu not written (%s): will retry", b->n,
		 rc == DB_DOWN ? "MySQL unavailable" : db_last_error(w->db));
out:
	free(text);
	free(acts);
	free(q.v);
	json_decref(doc);
	return rc ? -1 : 0;
}

/*
 * Finish a stream's entries. KEYS: stream, info, stock, users. ARGV: group, request ttl,
 * then per entry: id, requestId, uid, quantity, kind (s success, r failed with units back,
 * f failed, x skip), sn or reason. Only an entry this call acknowledges changes anything,
 * so units go back once however often a batch is replayed.
 */
static struct cache_script finish_script = {
    .src =
	"local base = string.sub(KEYS[1], 1, -8)\n"
	"local live = redis.call('HGET', KEYS[2], 'status') == '0'\n"
	"local n = 0\n"
	"for i = 3, #ARGV, 6 do\n"
	"  local kind = ARGV[i + 4]\n"
	"  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 and kind ~= 'x' then\n"
	"    local rk = base .. 'req:' .. ARGV[i + 1]\n"
	"    if kind == 's' then\n"
	"      redis.call('HSET', rk, 'uid', ARGV[i + 2], 'status', 'success', 'sn', ARGV[i + 5])\n"
	"    else\n"
	"      redis.call('HSET', rk, 'uid', ARGV[i + 2], 'status', 'failed', 'reason', "
	"ARGV[i + 5])\n"
	"      local q = tonumber(ARGV[i + 3])\n"
	"      local have = tonumber(redis.call('HGET', KEYS[4], ARGV[i + 2]) or '0')\n"
	"      local u = q\n"
	"      if have < u then u = have end\n"
	"      if u > 0 then redis.call('HINCRBY', KEYS[4], ARGV[i + 2], -u) end\n"
	"      if kind == 'r' and live then redis.call('INCRBY', KEYS[3], q) end\n"
	"    end\n"
	"    redis.call('EXPIRE', rk, ARGV[2])\n"
	"    n = n + 1\n"
	"  end\n"
	"  redis.call('XDEL', KEYS[1], ARGV[i])\n"
	"end\n"
	"return n\n",
};

/* The finish script's kind letter of an outcome. */
static const char *batch_kind(int outcome)
{
	switch (outcome) {
	case INTENT_DONE:
	case INTENT_ACCEPT: return "s";
	case INTENT_REJECT_RETURN: return "r";
	case INTENT_REJECT_KEEP: return "f";
	default: return "x";
	}
}

/* Finish the intents [from, to) of one stream. 0 or -1. */
static int batch_finish_stream(struct writer *w, struct batch *b, size_t from, size_t to)
{
	char info[64], stock[64], users[64], ttl[24];
	size_t n = to - from, argc = 0;
	const char **argv = malloc((6 + 6 * n) * sizeof *argv);
	char(*nums)[2][24] = malloc(n * sizeof *nums);
	int rc = -1;
	long long id = b->v[from].aid;

	if (!argv || !nums)
		goto out;
	activity_key(info, sizeof info, id, "info");
	activity_key(stock, sizeof stock, id, "stock");
	activity_key(users, sizeof users, id, "users");
	snprintf(ttl, sizeof ttl, "%ld", w->cfg.seckill_request_ttl);
	argv[argc++] = b->v[from].stream;
	argv[argc++] = info;
	argv[argc++] = stock;
	argv[argc++] = users;
	argv[argc++] = ACTIVITY_GROUP;
	argv[argc++] = ttl;
	for (size_t i = from; i < to; i++) {
		struct intent *it = &b->v[i];
		snprintf(nums[i - from][0], 24, "%lld", it->uid);
		snprintf(nums[i - from][1], 24, "%lld", it->qty);
		argv[argc++] = it->entry;
		argv[argc++] = it->rid;
		argv[argc++] = nums[i - from][0];
		argv[argc++] = nums[i - from][1];
		argv[argc++] = batch_kind(it->outcome);
		argv[argc++] = it->outcome == INTENT_DONE || it->outcome == INTENT_ACCEPT
				   ? it->sn
				   : seckill_reason_str(it->reason);
	}
	redisReply *r = cache_eval(w->cache, &finish_script, 4, (int)argc, argv);
	if (r && r->type == REDIS_REPLY_INTEGER)
		rc = 0;
	else
		log_warn("finishing %zu intents of %s failed: %s", n, b->v[from].stream,
			 r && r->type == REDIS_REPLY_ERROR ? r->str : "Redis unavailable");
	if (r)
		freeReplyObject(r);
out:
	free(argv);
	free(nums);
	return rc;
}

int batch_finish(struct writer *w, struct batch *b)
{
	size_t from = 0;
	int rc = 0;
	while (from < b->n) {
		size_t to = from + 1;
		while (to < b->n && !strcmp(b->v[to].stream, b->v[from].stream))
			to++;
		if (batch_finish_stream(w, b, from, to) < 0)
			rc = -1;
		from = to;
	}
	return rc;
}
