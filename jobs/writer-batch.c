/* writer-batch.c - one batch of intents: decided and inserted in one MySQL transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.h"
#include "log.h"
#include "lua-scripts.h"
#include "seckill-lib.h"
#include "writer.h"

/* Rows of a JSON document parameter, so a batch of any size is one prepared statement. */
#define JT_RID "JSON_TABLE(?, '$[*]' COLUMNS (rid VARCHAR(64) PATH '$.rid')) AS j"
#define JT_AID "JSON_TABLE(?, '$[*]' COLUMNS (aid BIGINT PATH '$.aid')) AS j"
#define JT_AU                                                                                      \
	"JSON_TABLE(?, '$[*]' COLUMNS (aid BIGINT PATH '$.aid', uid BIGINT PATH '$.uid')) AS j"
#define JT_QUOTA                                                                                   \
	"JSON_TABLE(?, '$[*]' COLUMNS (aid BIGINT PATH '$.aid', uid BIGINT PATH '$.uid', "         \
	"qty BIGINT PATH '$.qty')) AS j"
#define JT_ORDER                                                                                   \
	"JSON_TABLE(?, '$[*]' COLUMNS (sn VARCHAR(40) PATH '$.sn', rid VARCHAR(64) PATH '$.rid', " \
	"uid BIGINT PATH '$.uid', aid BIGINT PATH '$.aid', qty INT PATH '$.qty')) AS j"

/* Intents one batch may hold: writer_batch (at most 10,000) per stream, with room. */
#define BATCH_MAX_INTENTS (1u << 20)

/* An activity of the batch as MySQL has it, locked, with the units this batch adds. */
struct batch_activity {
	long long id, stock, sold, returned, limit, status, added, orders;
};

/* A user's units in one activity (open-addressing table entry), and what the batch adds. */
struct batch_quota {
	long long aid, uid, units, added;
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

/*
 * Append intent it to the JSON array in doc: {rid, aid, uid} for the locks, with sn and qty for
 * the inserts. A request id is of [A-Za-z0-9_-] (intent_rid_valid, checked on both transports)
 * and an sn ours (ids.h): nothing to escape. dynbuf keeps a failed append's error.
 */
static void batch_doc_add(struct dynbuf *doc, const struct intent *it, int insert)
{
	dynbuf_addstr(doc, dynbuf_len(doc) ? "," : "[");
	if (insert)
		dynbuf_printf(
		    doc, "{\"sn\":\"%s\",\"rid\":\"%s\",\"uid\":%lld,\"aid\":%lld,\"qty\":%lld}",
		    it->sn, it->rid, it->uid, it->aid, it->qty);
	else
		dynbuf_printf(doc, "{\"rid\":\"%s\",\"aid\":%lld,\"uid\":%lld}", it->rid, it->aid,
			      it->uid);
}

/* Close doc's array: its text, or NULL when an append failed (out of memory, over the limit). */
static const char *batch_doc_end(struct dynbuf *doc)
{
	return dynbuf_addstr(doc, "]") == 0 ? dynbuf_ptr(doc) : NULL;
}

/* The limit of a batch's document: a row is at most 64 + 40 + three numbers and the names. */
#define BATCH_DOC_ROW 256

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
		a->added = a->orders = 0;
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
		s->added += it->qty;
		a->added += it->qty;
		a->orders++;
		it->outcome = INTENT_ACCEPT;
		id_sn_new(it->sn, sizeof it->sn, "ORD");
	}
}

/* qsort order of quota slots: by activity, then user (the rows' key order). */
static int quota_cmp(const void *x, const void *y)
{
	const struct batch_quota *a = *(const struct batch_quota *const *)x;
	const struct batch_quota *b = *(const struct batch_quota *const *)y;
	if (a->aid != b->aid)
		return a->aid < b->aid ? -1 : 1;
	return a->uid < b->uid ? -1 : a->uid > b->uid;
}

/*
 * Add the batch's units to each user's quota row: one row per user and activity, summed in
 * batch_decide already (a GROUP BY over the orders' document cost MariaDB a temporary table),
 * in key order as the GROUP BY had them, so two writers take their row locks alike.
 */
static int batch_quota_add(struct writer *w, const struct quota_map *q, size_t rows)
{
	struct dynbuf doc;
	const struct batch_quota **v = calloc(rows ? rows : 1, sizeof *v);
	const char *text;
	size_t n = 0;
	int rc = DB_ERR;

	dynbuf_init(&doc, rows * BATCH_DOC_ROW + 2);
	if (!v)
		goto out;
	for (size_t i = 0; i <= q->mask && n < rows; i++)
		if (q->v[i].used && q->v[i].added > 0)
			v[n++] = &q->v[i];
	qsort(v, n, sizeof *v, quota_cmp);
	for (size_t i = 0; i < n; i++) {
		dynbuf_addstr(&doc, i ? "," : "[");
		dynbuf_printf(&doc, "{\"aid\":%lld,\"uid\":%lld,\"qty\":%lld}", v[i]->aid,
			      v[i]->uid, v[i]->added);
	}
	if (!(text = batch_doc_end(&doc)))
		goto out;
	rc = db_exec(w->db,
		     "INSERT INTO flashsale_seckill.user_quota (activity_id, user_id, units) "
		     "SELECT j.aid, j.uid, j.qty FROM " JT_QUOTA
		     " ON DUPLICATE KEY UPDATE units = units + VALUES(units)",
		     "s", text);
out:
	dynbuf_free(&doc);
	free(v);
	return rc;
}

/* Write the accepted intents: sold counts (guarded), quotas and the orders. */
static int batch_insert(struct writer *w, struct batch *b, struct batch_activity *acts,
			size_t nacts, const struct quota_map *q)
{
	struct dynbuf doc;
	const char *text;
	long long rows = 0, now = (long long)time(NULL);
	int rc = DB_OK;

	dynbuf_init(&doc, b->n * BATCH_DOC_ROW + 2);
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].outcome == INTENT_ACCEPT) {
			batch_doc_add(&doc, &b->v[i], 1);
			rows++;
		}
	if (rows == 0)
		goto out;
	/* A row dropped for want of memory would be an order lost: fail the batch. */
	if (!(text = batch_doc_end(&doc))) {
		rc = DB_ERR;
		goto out;
	}
	for (size_t i = 0; i < nacts; i++) {
		if (!acts[i].added)
			continue;
		rc = db_exec(
		    w->db,
		    "UPDATE flashsale_seckill.activity SET sold = sold + ?, orders = orders + "
		    "?, version = version + 1, update_time = UNIX_TIMESTAMP() "
		    "WHERE id = ? AND status = 0 AND sold + returned + ? <= stock",
		    "iiii", acts[i].added, acts[i].orders, acts[i].id, acts[i].added);
		if (rc)
			goto out;
		if (db_affected_rows(w->db) != 1) {
			log_error("activity %lld: guarded sold update refused", acts[i].id);
			redisReply *g = cache_command(w->cache, "INCR %s", ACTIVITY_GUARD_KEY);
			if (g)
				freeReplyObject(g);
			rc = DB_ERR;
			goto out;
		}
	}
	if ((rc = batch_quota_add(w, q, rows)))
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
	if (db_affected_rows(w->db) != rows) {
		log_error("order insert wrote %lld of %lld rows", db_affected_rows(w->db), rows);
		rc = DB_ERR;
		goto out;
	}
	b->accepted = rows;
out:
	dynbuf_free(&doc);
	return rc;
}

/* One try of the batch in one transaction: DB_OK, or a db_rc (rolled back, decisions undone). */
static int batch_write_once(struct writer *w, struct batch *b)
{
	struct dynbuf doc;
	const char *text;
	struct batch_activity *acts = NULL;
	struct quota_map q = {0};
	size_t nacts = 0, size = 64;
	int rc = DB_OK;

	dynbuf_init(&doc, b->n * BATCH_DOC_ROW + 2);
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].outcome == INTENT_NEW)
			batch_doc_add(&doc, &b->v[i], 0);
	if (dynbuf_len(&doc) == 0)
		goto out;
	while (size < 2 * b->n)
		size *= 2;
	text = batch_doc_end(&doc);
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
	if ((!b->fresh && (rc = batch_existing(w, b, text))) ||
	    (rc = batch_lock(w, text, acts, &nacts, b->n, &q)))
		goto fail;
	batch_decide(b, acts, nacts, &q);
	if ((rc = batch_insert(w, b, acts, nacts, &q)) || (rc = db_commit(w->db)))
		goto fail;
	goto out;
fail:
	db_rollback(w->db);
	/* Decisions are redone on the retry. */
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].outcome != INTENT_SKIP && b->v[i].outcome != INTENT_DEAD)
			b->v[i].outcome = INTENT_NEW;
	b->accepted = 0;
	log_warn("order batch of %zu not written (%s): will retry", b->n,
		 rc == DB_DOWN ? "MySQL unavailable" : db_last_error(w->db));
out:
	dynbuf_free(&doc);
	free(acts);
	free(q.v);
	return rc;
}

/* Is b the batch that failed last (same first entry)? Remember it if not. */
static int batch_same_head(struct writer *w, struct batch *b)
{
	char head[sizeof w->fail_head];
	snprintf(head, sizeof head, "%s/%s", b->v[0].stream, b->v[0].entry);
	if (!strcmp(head, w->fail_head))
		return 1;
	snprintf(w->fail_head, sizeof w->fail_head, "%s", head);
	return 0;
}

/*
 * The batch keeps failing with MySQL up: one intent is likely a poison message. Write each
 * new intent alone; one that fails alone becomes a dead letter (its units go back when
 * batch_finish moves it). 0, or -1 when MySQL went away meanwhile (the batch is read again;
 * what was written alone is found by batch_existing then).
 */
static int batch_isolate(struct writer *w, struct batch *b)
{
	log_warn("order batch of %zu failed %ld times: writing its intents one by one", b->n,
		 w->fail_count);
	for (size_t i = 0; i < b->n; i++) {
		struct intent one = b->v[i];
		struct batch single = {.v = &one, .n = 1}; /* read only: never grown or freed */
		if (one.outcome != INTENT_NEW)
			continue;
		int rc = batch_write_once(w, &single);
		if (rc == DB_DOWN)
			return -1;
		if (rc == DB_OK) {
			b->v[i] = one;
			b->accepted += single.accepted;
			continue;
		}
		log_error("intent %s (%s) cannot be written: %s; dead-lettered", one.rid, one.entry,
			  db_last_error(w->db));
		b->v[i].outcome = INTENT_DEAD;
		b->v[i].reason = REASON_UNWRITABLE;
	}
	return 0;
}

int batch_write(struct writer *w, struct batch *b)
{
	int rc = batch_write_once(w, b);
	if (rc == DB_DUP && b->fresh) {
		/* A fresh entry's order exists: its request record was lost (a Redis failover)
		 * and the client's retry queued it again. Once more, with the replay check. */
		b->fresh = 0;
		rc = batch_write_once(w, b);
	}
	if (rc == DB_OK) {
		w->fail_count = 0;
		w->fail_head[0] = 0;
		return 0;
	}
	if (rc == DB_DOWN || b->n == 0)
		return -1; /* MySQL away: no intent is to blame */
	w->fail_count = batch_same_head(w, b) ? w->fail_count + 1 : 1;
	if (w->fail_count < w->cfg.seckill_writer_attempts)
		return -1;
	rc = batch_isolate(w, b);
	w->fail_count = 0;
	w->fail_head[0] = 0;
	return rc;
}

/* Finish a stream's entries (lua/finish.lua). */
static struct cache_script finish_script = {.src = lua_finish};

/* The finish script's kind letter of an outcome. */
static const char *batch_kind(int outcome)
{
	switch (outcome) {
	case INTENT_DONE:
	case INTENT_ACCEPT: return "s";
	case INTENT_REJECT_RETURN: return "r";
	case INTENT_REJECT_KEEP: return "f";
	case INTENT_DEAD: return "d";
	default: return "x";
	}
}

/* Note activity id in the set of activities with dead letters (ACTIVITY_DEAD_KEY). */
static void batch_note_dead(struct writer *w, long long id, long long n)
{
	char sid[24];
	snprintf(sid, sizeof sid, "%lld", id);
	redisReply *r = cache_command(w->cache, "SADD %s %s", ACTIVITY_DEAD_KEY, sid);
	if (r)
		freeReplyObject(r);
	log_warn("activity %lld: %lld intents moved to the dead-letter stream", id, n);
}

/* Finish the intents [from, to) of one stream. 0 or -1. */
static int batch_finish_stream(struct writer *w, struct batch *b, size_t from, size_t to)
{
	char info[64], stock[64], users[64], dead[64], ttl[24], now[24];
	size_t n = to - from, nkeys = 0, argc = 0;
	const char **keys = malloc((5 + n) * sizeof *keys);
	const char **args = malloc((3 + 6 * n) * sizeof *args);
	const char **argv = malloc((8 + 7 * n) * sizeof *argv);
	char(*nums)[2][24] = malloc(n * sizeof *nums);
	char(*reqs)[ACTIVITY_KEY_MAX] = malloc(n * sizeof *reqs);
	int rc = -1;
	long long id = b->v[from].aid;

	if (!keys || !args || !argv || !nums || !reqs)
		goto out;
	activity_key(info, sizeof info, id, AK_INFO, NULL);
	activity_key(stock, sizeof stock, id, AK_STOCK, NULL);
	activity_key(users, sizeof users, id, AK_USERS, NULL);
	activity_key(dead, sizeof dead, id, AK_DEAD, NULL);
	snprintf(ttl, sizeof ttl, "%ld", w->cfg.seckill_request_ttl);
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	keys[nkeys++] = b->v[from].stream;
	keys[nkeys++] = info;
	keys[nkeys++] = stock;
	keys[nkeys++] = users;
	keys[nkeys++] = dead;
	/* No group (the Kafka writer): finish.lua gates on the request records instead. */
	args[argc++] = w->gate_on_record ? "" : ACTIVITY_GROUP;
	args[argc++] = ttl;
	args[argc++] = now;
	for (size_t i = from; i < to; i++) {
		struct intent *it = &b->v[i];
		char *uid = nums[i - from][0], *qty = nums[i - from][1];
		snprintf(uid, 24, "%lld", it->uid);
		snprintf(qty, 24, "%lld", it->qty);
		const char *kind = batch_kind(it->outcome);
		/* Only a failure rewrites the request's record (a success's stays queued). */
		if (it->rid[0] && kind[0] != 's' && kind[0] != 'x' &&
		    activity_key(reqs[i - from], ACTIVITY_KEY_MAX, id, AK_REQ, it->rid) == 0)
			keys[nkeys++] = reqs[i - from];
		args[argc++] = it->entry;
		args[argc++] = keys[nkeys - 1] == reqs[i - from] ? it->rid : "";
		args[argc++] = it->uid > 0 ? uid : "";
		args[argc++] = qty;
		args[argc++] = kind;
		args[argc++] = kind[0] == 's' ? it->sn : seckill_reason_str(it->reason);
	}
	memcpy(argv, keys, nkeys * sizeof *argv);
	memcpy(argv + nkeys, args, argc * sizeof *argv);
	redisReply *r = cache_eval(w->cache, &finish_script, (int)nkeys, (int)(nkeys + argc), argv);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == FINISH_N) {
		rc = 0;
		if (r->element[FINISH_DEAD]->integer > 0)
			batch_note_dead(w, id, r->element[FINISH_DEAD]->integer);
	} else {
		log_warn("finishing %zu intents of %s failed: %s", n, b->v[from].stream,
			 r && r->type == REDIS_REPLY_ERROR ? r->str : "Redis unavailable");
	}
	if (r)
		freeReplyObject(r);
out:
	free(keys);
	free(args);
	free(argv);
	free(nums);
	free(reqs);
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
