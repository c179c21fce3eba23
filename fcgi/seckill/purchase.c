/* purchase.c - /seckill/do: seckill token, sold-out memo, then one atomic Lua script in Redis. */
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include <time.h>

#include "activity.h"
#include "ids.h"
#include "log.h"
#include "lua-scripts.h"
#include "metrics.h"
#include "seckill-lib.h"
#include "seckill.h"

#define MEMO_SLOTS   64
#define QUANTITY_MAX 1000

/* One remembered "sold out": activity id and when the memory fades (monotonic ms). */
struct soldout_memo {
	long long activity_id;
	long long until_ms;
};

static struct soldout_memo memo[MEMO_SLOTS];

/* The purchase, atomically (lua/purchase.lua). */
static struct cache_script purchase_script = {.src = lua_purchase};

/* Milliseconds of the monotonic clock. */
static long long purchase_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is the activity remembered as sold out? (The slots are shared by the process's threads:
 * atomic fields; a slot taken over by another id meanwhile only costs one script run.) */
static int memo_soldout(long long id)
{
	struct soldout_memo *m = &memo[id % MEMO_SLOTS];
	return __atomic_load_n(&m->activity_id, __ATOMIC_ACQUIRE) == id &&
	       __atomic_load_n(&m->until_ms, __ATOMIC_RELAXED) > purchase_now_ms();
}

/* Remember "sold out" for a moment and leave the marker for the web server. */
static void memo_set(struct app *app, long long id)
{
	struct soldout_memo *m = &memo[id % MEMO_SLOTS];
	__atomic_store_n(&m->until_ms, purchase_now_ms() + app->cfg.seckill_soldout_memo_ms,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&m->activity_id, id, __ATOMIC_RELEASE);
	activity_marker_set(app->cfg.seckill_marker_dir, id);
}

/* The optional ?activityId=N of the URL (for the web server's sold-out check) must match. */
static int purchase_url_id(struct http_req *req, long long id)
{
	char buf[24], *end;
	int rc = http_query_get(req, "activityId", buf, sizeof buf);
	if (rc == 0)
		return 0;
	if (rc != 1)
		return rc;
	long long v = strtoll(buf, &end, 10);
	if (!buf[0] || *end)
		return http_fail(req, E_PARAM, "activityId must be an integer");
	if (v != id)
		return http_fail(req, E_PARAM, "activityId in the URL must match the body");
	return 0;
}

/*
 * The request id of this purchase: "<activityId>-<32 hex>", random, or with the client's
 * own requestId (its idempotency key, API.md) a hash of user and key, so a retry finds the
 * first attempt's record and no two users' keys can meet. 0 or an API code.
 */
static int purchase_request_id(struct http_req *req, long long id, char rid[ID_REQUEST_MAX])
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	const char *key = NULL;
	char hex[33], in[96];
	unsigned char h[16];
	int rc = param_str(req, "requestId", 0, 8, 64, &key);
	if (rc)
		return rc;
	if (!key) {
		id_hex32(hex);
	} else {
		if (strspn(key, ok) != strlen(key))
			return http_fail(req, E_PARAM, "requestId must be 8-64 of [A-Za-z0-9_-]");
		int n = snprintf(in, sizeof in, "%lld|%s", req->claims.user_id, key);
		crypto_generichash(h, sizeof h, (const unsigned char *)in, (size_t)n, NULL, 0);
		sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	}
	id_request_new(rid, id, hex);
	return 0;
}

/* Is a Redis error reply a passing server state (loading after a restart, failover, ...)? */
static int purchase_redis_busy(const char *err)
{
	static const char *const busy[] = {"LOADING",    "BUSY",     "OOM",        "READONLY",
					   "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"};
	for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++)
		if (!strncmp(err, busy[i], strlen(busy[i])))
			return 1;
	return 0;
}

/*
 * redis.wait_replicas > 0: WAIT until that many replicas have the purchase just queued, on the
 * connection that ran it. A short count still answers queued (the primary has it) but is
 * counted: a failover before the replicas caught up would lose it.
 */
static void purchase_wait(struct app *app, const char *key)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int waits = -1, shorts = -1, defined;
	if (app->cfg.redis_wait_replicas <= 0)
		return;
	pthread_mutex_lock(&lock); /* the slots are the process's, shared by its threads */
	if (!defined) {
		waits = metrics_define("flashsale_seckill_wait_total", NULL,
				       "Purchases followed by WAIT (redis.wait_replicas).", 0);
		shorts =
		    metrics_define("flashsale_seckill_wait_short_total", NULL,
				   "Purchases whose WAIT missed redis.wait_replicas in time.", 0);
		defined = 1;
	}
	pthread_mutex_unlock(&lock);
	long long acked = cache_wait(app->cache, key, app->cfg.redis_wait_replicas,
				     app->cfg.redis_wait_timeout_ms);
	metrics_add(waits, 1);
	if (acked < app->cfg.redis_wait_replicas) {
		metrics_add(shorts, 1);
		log_warn("purchase: WAIT reached %lld of %ld replicas", acked,
			 app->cfg.redis_wait_replicas);
	}
}

/* Run the script for request rid and turn its answer into a response. */
static int purchase_run(struct app *app, struct http_req *req, long long id, long long qty,
			const char *rid)
{
	char info[64], stock[64], users[64], intents[64], stats[64], rev[64];
	char reqkey[ACTIVITY_KEY_MAX], rl[ACTIVITY_KEY_MAX];
	char uid[24], q[24], now[24], ttl[24], rate[24];
	long long left = -1;
	int rc = E_SERVER;

	snprintf(uid, sizeof uid, "%lld", req->claims.user_id);
	activity_key(info, sizeof info, id, AK_INFO, NULL);
	activity_key(stock, sizeof stock, id, AK_STOCK, NULL);
	activity_key(users, sizeof users, id, AK_USERS, NULL);
	activity_key(intents, sizeof intents, id, AK_INTENTS, NULL);
	activity_key(rev, sizeof rev, id, AK_REVOKED, NULL);
	activity_key(stats, sizeof stats, id, AK_STATS, NULL);
	activity_key(reqkey, sizeof reqkey, id, AK_REQ, rid);
	activity_key(rl, sizeof rl, id, AK_RL, uid);
	snprintf(q, sizeof q, "%lld", qty);
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	snprintf(ttl, sizeof ttl, "%ld", app->cfg.seckill_request_ttl);
	snprintf(rate, sizeof rate, "%ld", app->cfg.seckill_user_rate);
	const char *argv[] = {info, stock, users, intents, reqkey,         rl, rev, stats, uid, q,
			      now,  rid,   ttl,   rate,    req->claims.jti};
	const struct seckill_app *sk = app->domain;
	redisReply *r =
	    cache_eval(sk->purchase ? sk->purchase : app->cache, &purchase_script, 8, 15, argv);
	if (!r)
		return E_DB_BUSY;
	if (r->type == REDIS_REPLY_ERROR && purchase_redis_busy(r->str)) {
		log_warn("purchase script: %s", r->str);
		rc = E_DB_BUSY;
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		log_error("purchase script: %s",
			  r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
		goto out;
	}
	long long code = r->element[0]->integer;
	long long arg = r->elements > 1 && r->element[1]->type == REDIS_REPLY_INTEGER
			    ? r->element[1]->integer
			    : 0;
	switch (code) {
	case PURCHASE_QUEUED:
		left = arg;
		purchase_wait(app, info);
		/* fall through */
	case PURCHASE_KNOWN:
		/* Known: the client's retry with its requestId (or our own call replayed by
		 * cache.c after a dropped link): the first run queued it. */
		req->data = json_pack("{s:s,s:s}", "requestId", rid, "status", "queued");
		rc = req->data ? 0 : E_SERVER;
		break;
	case PURCHASE_NOT_LOADED:
		rc = http_fail(req, E_ACTIVITY_NOT_FOUND, "activity not found or not loaded");
		break;
	case PURCHASE_NOT_STARTED: rc = E_ACTIVITY_NOT_STARTED; break;
	case PURCHASE_ENDED:
		rc = arg == ACTIVITY_CANCELLED
			 ? http_fail(req, E_ACTIVITY_ENDED, "activity cancelled")
			 : E_ACTIVITY_ENDED;
		break;
	case PURCHASE_SHORT:
		left = arg;
		rc =
		    arg == 0 ? E_SOLD_OUT : http_fail(req, E_SOLD_OUT, "only %lld units left", arg);
		break;
	case PURCHASE_LIMIT:
		rc = http_fail(req, E_LIMIT_REACHED, "purchase limit reached: %lld held", arg);
		break;
	case PURCHASE_REVOKED: rc = http_fail(req, E_TOKEN, "token revoked"); break;
	case PURCHASE_RATE_LIMITED:
		req->retry_after = arg > 0 ? (long)((arg + 999) / 1000) : 1;
		rc = E_RATE_LIMIT;
		break;
	default: log_error("purchase script: unknown answer %lld", code);
	}
	if (left == 0)
		memo_set(app, id);
out:
	freeReplyObject(r);
	return rc;
}

/* The purchase; *idp is the activity once the token vouched for it, *by_memo set when the
 * sold-out memo answered. */
static int purchase_do(struct app *app, struct http_req *req, long long *idp, int *by_memo)
{
	long long id, qty = 1;
	const char *token;
	char rid[ID_REQUEST_MAX];
	int rc;

	if ((rc = param_int(req, "activityId", 1, 1, (long long)1 << 53, &id)) ||
	    (rc = param_str(req, "token", 1, 1, SECKILL_TOKEN_MAX, &token)) ||
	    (rc = param_int(req, "quantity", 0, 1, QUANTITY_MAX, &qty)) ||
	    (rc = purchase_url_id(req, id)))
		return rc;
	if (seckill_token_verify(app->cfg.seckill_token_secret, token, req->claims.user_id, id,
				 req->claims.jti, (long long)time(NULL)) < 0)
		return E_SECKILL_TOKEN;
	*idp = id; /* bound by the token: a real activity */
	if (memo_soldout(id)) {
		*by_memo = 1; /* before the request id: a fixed answer needs none */
		return E_SOLD_OUT;
	}
	if ((rc = purchase_request_id(req, id, rid)))
		return rc;
	return purchase_run(app, req, id, qty, rid);
}

int seckill_do(struct app *app, struct http_req *req)
{
	long long id = 0;
	int by_memo = 0;
	int rc = purchase_do(app, req, &id, &by_memo);
	seckill_outcome_count(rc, id, by_memo);
	return rc;
}

int seckill_purchase_init(struct app *app)
{
	static struct seckill_app sk;
	seckill_outcomes_init();
	/* WAIT covers the writes of its own connection only: with it, each thread's own. */
	if (app->cfg.redis_pipeline && !cache_is_cluster(app->cache) &&
	    app->cfg.redis_wait_replicas == 0 && !(sk.purchase = cache_new_shared(&app->cfg))) {
		log_error("out of memory");
		return -1;
	}
	app->domain = &sk;
	app->metrics_refresh = seckill_writer_lag_refresh;
	app->threaded = 1; /* its handlers share nothing unguarded (./flashsale test tsan) */
	if (strlen(app->cfg.seckill_token_secret) < 32) {
		log_error("seckill.token_secret must be at least 32 characters");
		return -1;
	}
	if (app->cfg.seckill_marker_dir[0] && mkdir(app->cfg.seckill_marker_dir, 0755) < 0) {
		struct stat st;
		if (stat(app->cfg.seckill_marker_dir, &st) < 0 || !S_ISDIR(st.st_mode))
			log_warn("seckill.marker_dir %s is not a directory: the web server "
				 "cannot answer sold-out by itself",
				 app->cfg.seckill_marker_dir);
	}
	return 0;
}
