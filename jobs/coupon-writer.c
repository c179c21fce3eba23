/* coupon-writer.c - flashsale-coupon-writer: flash coupon claims (Redis streams) -> coupons.
 *
 * The order-writer's pattern for coupons: each loaded flash template has a stream
 * {c:N}:claims listed in COUPON_STREAMS_KEY; one XREADGROUP reads them all (stream-group.c,
 * the order-writer's refresh/claim/read steps as a reusable piece). A batch is one
 * MySQL transaction in which every claim goes through coupon_grant, the same guarded issue as
 * an ordinary claim (total and perUserLimit re-checked against MySQL, the truth; the unique
 * request_id makes a replay find its coupon). After the commit one Lua script per stream
 * records each request's outcome, gives the Redis counts of a refused claim back, XACKs and
 * XDELs. Nothing is acknowledged before MySQL committed; a writer killed at any point loses
 * nothing: its pending entries are claimed (XAUTOCLAIM) by the next one and replayed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coupon.h"
#include "dynbuf.h"
#include "job.h"
#include "log.h"
#include "memo.h"
#include "stream-group.h"

/* One claim read from a stream and what became of it. */
struct claim {
	long long tid, uid, coupon_id;
	char entry[48], rid[72];
	int rc; /* coupon_rc; -1 malformed (acknowledged without effect) */
};

/* Most claims one read holds (SG_MAX_STREAMS streams of seckill.writer_batch at most). */
#define CW_MAX_CLAIMS 100000

/* The writer's state. */
struct cw {
	struct job *j;
	struct stream_group g;
	struct dynbuf buf; /* the batch's struct claim records (v points into it) */
	struct claim *v;
	size_t n;
};

/*
 * The outcome of a batch in one stream, atomically. KEYS: stream, left, users, req 1..N.
 * ARGV: ttl, then per claim: entry id, uid, rc (0 ok, 3 all claimed, 4 limit, 5 closed, -1
 * malformed), coupon id. A refused claim's count goes back to the user, and its coupon to left
 * unless MySQL had none (3: Redis had overcounted).
 */
static struct cache_script finish_script = {
    .src = "local n = (#ARGV - 1) / 4\n"
	   "for i = 1, n do\n"
	   "  local b = 1 + (i - 1) * 4\n"
	   "  local rc = tonumber(ARGV[b + 3])\n"
	   "  local key = KEYS[3 + i]\n"
	   "  if rc == 0 then\n"
	   "    redis.call('HSET', key, 'uid', ARGV[b + 2], 'status', 'success', 'couponId', "
	   "ARGV[b + 4])\n"
	   "    redis.call('EXPIRE', key, ARGV[1])\n"
	   "  elseif rc > 0 then\n"
	   "    local why = ({[1] = 'template not found', [3] = 'coupons all claimed', "
	   "[4] = 'claim limit reached', [5] = 'claims closed'})[rc] or 'refused'\n"
	   "    redis.call('HSET', key, 'uid', ARGV[b + 2], 'status', 'failed', 'reason', why)\n"
	   "    redis.call('EXPIRE', key, ARGV[1])\n"
	   "    redis.call('HINCRBY', KEYS[3], ARGV[b + 2], -1)\n"
	   "    if rc ~= 3 then redis.call('INCR', KEYS[2]) end\n"
	   "  end\n"
	   "  redis.call('XACK', KEYS[1], 'coupon-writers', ARGV[b + 1])\n"
	   "  redis.call('XDEL', KEYS[1], ARGV[b + 1])\n"
	   "end\n"
	   "return n\n",
};

/* One XREADGROUP over every stream into w->v. 0, or -1 (Redis down or an error reply). */
static int cw_read(struct cw *w)
{
	redisReply *r = sg_read(&w->g, w->j->cfg.seckill_writer_batch);
	w->n = 0;
	dynbuf_reset(&w->buf);
	if (!r)
		return -1;
	for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
		redisReply *st = r->element[s];
		if (st->type != REDIS_REPLY_ARRAY || st->elements != 2)
			continue;
		long long tid = strtoll(st->element[0]->str + 3, NULL, 10);
		redisReply *en = st->element[1];
		for (size_t e = 0; en->type == REDIS_REPLY_ARRAY && e < en->elements; e++) {
			redisReply *x = en->element[e];
			if (x->type != REDIS_REPLY_ARRAY || x->elements != 2)
				continue;
			struct claim *c = dynbuf_grow(&w->buf, sizeof *c);
			if (!c)
				break; /* over CW_MAX_CLAIMS: the rest stay pending, read again */
			w->n++;
			c->tid = tid;
			snprintf(c->entry, sizeof c->entry, "%s", x->element[0]->str);
			const char *rid = cache_field(x->element[1], "rid", NULL);
			const char *uid = cache_field(x->element[1], "uid", NULL);
			c->rc = rid && uid && strlen(rid) < sizeof c->rid ? 0 : -1;
			if (c->rc == 0) {
				snprintf(c->rid, sizeof c->rid, "%s", rid);
				c->uid = strtoll(uid, NULL, 10);
			}
		}
	}
	freeReplyObject(r);
	w->v = (struct claim *)dynbuf_ptr(&w->buf);
	if (w->buf.failed) {
		w->n = 0; /* the records are gone: read the entries again (ours, pending) */
		w->g.pending = 1;
		return -1;
	}
	return 0;
}

/* Every claim of the batch in one transaction. 0, or -1 (rolled back: read them again). */
static int cw_write(struct cw *w)
{
	if (db_begin(w->j->db))
		return -1;
	for (size_t i = 0; i < w->n; i++) {
		struct claim *c = &w->v[i];
		if (c->rc < 0)
			continue;
		int rc = coupon_grant(w->j->db, c->tid, c->uid, "flash", c->rid, 0, &c->coupon_id);
		if (rc < 0) {
			db_rollback(w->j->db);
			return -1;
		}
		c->rc = rc;
	}
	return db_commit(w->j->db) ? -1 : 0;
}

/* Per stream, the finish script over its claims. 0 or -1. */
static int cw_finish(struct cw *w)
{
	size_t i = 0;
	while (i < w->n) {
		long long tid = w->v[i].tid;
		size_t j = i;
		while (j < w->n && w->v[j].tid == tid)
			j++;
		size_t k = j - i, argc = 4 + k + 1 + 4 * k;
		const char **argv = calloc(argc, sizeof *argv);
		char(*num)[3][24] = calloc(k, sizeof *num);
		char(*keys)[128] = calloc(k, sizeof *keys);
		char stream[64], left[64], users[64], ttl[24];
		int rc = -1;
		if (argv && num && keys) {
			coupon_key(stream, sizeof stream, tid, "claims");
			coupon_key(left, sizeof left, tid, "left");
			coupon_key(users, sizeof users, tid, "users");
			snprintf(ttl, sizeof ttl, "%ld", w->j->cfg.coupon_request_ttl);
			size_t a = 0;
			argv[a++] = stream;
			argv[a++] = left;
			argv[a++] = users;
			for (size_t m = 0; m < k; m++) {
				snprintf(keys[m], sizeof keys[m], "{c:%lld}:req:%s", tid,
					 w->v[i + m].rid);
				argv[a++] = keys[m];
			}
			argv[a++] = ttl;
			for (size_t m = 0; m < k; m++) {
				struct claim *c = &w->v[i + m];
				snprintf(num[m][0], 24, "%lld", c->uid);
				snprintf(num[m][1], 24, "%d", c->rc);
				snprintf(num[m][2], 24, "%lld", c->coupon_id);
				argv[a++] = c->entry;
				argv[a++] = num[m][0];
				argv[a++] = num[m][1];
				argv[a++] = num[m][2];
			}
			redisReply *r =
			    cache_eval(w->j->cache, &finish_script, (int)(3 + k), (int)a, argv);
			rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
			if (r && rc)
				log_error("coupon finish script: %s",
					  r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
			if (r)
				freeReplyObject(r);
		}
		free(argv);
		free(num);
		free(keys);
		if (rc)
			return -1;
		i = j;
	}
	return 0;
}

/* One pass: read, write, finish. 1 if it did work, 0 if idle, -1 on a failure. */
static int cw_pass(struct cw *w)
{
	if (w->g.nstreams == 0) {
		struct timespec ts = {0, 200 * 1000000L};
		nanosleep(&ts, NULL);
		return 0;
	}
	if (cw_read(w) < 0)
		return -1;
	if (w->n == 0) {
		w->g.pending = 0;
		return 0;
	}
	if (cw_write(w) < 0 || cw_finish(w) < 0) {
		w->g.pending = 1; /* the entries stay ours: read them again with id 0 */
		return -1;
	}
	return 1;
}

/* Read, write and finish batches until job_stop. */
static int coupon_writer_run(struct job *j)
{
	static struct cw w;
	long long refresh_at = 0, claim_at = 0, backoff = 0;

	w.j = j;
	dynbuf_init(&w.buf, CW_MAX_CLAIMS * sizeof(struct claim));
	/* The socket timeout must outlast a blocking read. */
	sg_init(&w.g, j->cache, COUPON_STREAMS_KEY, "{c:", COUPON_GROUP,
		j->cfg.redis_timeout_ms / 2 < 1000 ? j->cfg.redis_timeout_ms / 2 : 1000);
	log_info("coupon-writer %s ready", w.g.consumer);
	while (!job_stop) {
		long long now = memo_now_ms();
		if ((now >= refresh_at || w.g.nstreams == 0) && sg_refresh(&w.g) == 0)
			refresh_at = now + 1000;
		if (now >= claim_at) {
			sg_autoclaim(&w.g, j->cfg.seckill_claim_idle_ms, 1000);
			claim_at = now + j->cfg.seckill_claim_idle_ms / 2;
		}
		if (cw_pass(&w) < 0) {
			backoff = backoff ? backoff * 2 : 200;
			if (backoff > 5000)
				backoff = 5000;
			struct timespec ts = {backoff / 1000, (backoff % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		} else {
			backoff = 0;
		}
	}
	log_info("coupon-writer %s stopping", w.g.consumer);
	sg_free(&w.g);
	dynbuf_free(&w.buf);
	return 0;
}

static const struct job_entry coupon_writer_entry = {
    .name = "coupon-writer",
    .needs = JOB_DB | JOB_CACHE | JOB_DAEMON,
    .run = coupon_writer_run,
};

int main(int argc, char **argv)
{
	return job_main(&coupon_writer_entry, argc, argv);
}
