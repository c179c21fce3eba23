/* purchase.c - /seckill/do: token checks, sold-out memo, then one atomic Lua script in Redis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "activity.h"
#include "ids.h"
#include "log.h"
#include "seckill-lib.h"
#include "purchase-lua.h"
#include "seckill.h"

#define MEMO_SLOTS   64
#define QUANTITY_MAX 1000

/* One remembered "sold out": activity id and when the memory fades (monotonic ms). */
struct soldout_memo {
	long long activity_id;
	long long until_ms;
};

static struct soldout_memo memo[MEMO_SLOTS];

/* The purchase, atomically (purchase-lua.h). */
static struct cache_script purchase_script = {
    .src = PURCHASE_LUA,
};

/* Milliseconds of the monotonic clock. */
static long long purchase_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is the activity remembered as sold out? */
static int memo_soldout(long long id)
{
	struct soldout_memo *m = &memo[id % MEMO_SLOTS];
	return m->activity_id == id && m->until_ms > purchase_now_ms();
}

/* Remember "sold out" for a moment and leave the marker for the web server. */
static void memo_set(struct app *app, long long id)
{
	struct soldout_memo *m = &memo[id % MEMO_SLOTS];
	m->activity_id = id;
	m->until_ms = purchase_now_ms() + app->cfg.seckill_soldout_memo_ms;
	activity_marker_set(app->cfg.seckill_marker_dir, id);
}

/* The optional ?activityId=N of the URL (for the web server's sold-out check) must match. */
static int purchase_url_id(struct http_req *req, long long id)
{
	const char *q = req->query;
	while (q && *q) {
		size_t len = strcspn(q, "&");
		if (len > 11 && !strncmp(q, "activityId=", 11)) {
			char buf[24];
			size_t vlen = len - 11;
			if (vlen == 0 || vlen >= sizeof buf)
				return http_fail(req, E_PARAM, "activityId must be an integer");
			memcpy(buf, q + 11, vlen);
			buf[vlen] = 0;
			char *end;
			long long v = strtoll(buf, &end, 10);
			if (*end)
				return http_fail(req, E_PARAM, "activityId must be an integer");
			if (v != id)
				return http_fail(req, E_PARAM,
						 "activityId in the URL must match the body");
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return 0;
}

/* Verify the access token without I/O (see main.c for why no session lookup). */
static int purchase_auth(struct app *app, struct http_req *req)
{
	const char *tok = auth_bearer(req->authorization);
	if (!tok || !*tok)
		return http_fail(req, E_TOKEN, "token missing");
	if (strlen(tok) > AUTH_TOKEN_MAX || auth_token_verify(&app->cfg, tok, &req->claims) < 0)
		return http_fail(req, E_TOKEN, "token invalid or expired");
	log_set_request(req->request_id, req->claims.user_id);
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

/* Run the script and turn its answer into a response. */
static int purchase_run(struct app *app, struct http_req *req, long long id, long long qty)
{
	char info[64], stock[64], users[64], intents[64], stats[64], reqkey[128], rl[80];
	char uid[24], q[24], now[24], aid[24], ttl[24], rate[24], rid[64], hex[33];
	long long left = -1;
	int rc = E_SERVER;

	id_hex32(hex);
	snprintf(rid, sizeof rid, "%lld-%s", id, hex);
	activity_key(info, sizeof info, id, "info");
	activity_key(stock, sizeof stock, id, "stock");
	activity_key(users, sizeof users, id, "users");
	activity_key(intents, sizeof intents, id, "intents");
	activity_key(stats, sizeof stats, id, "stats");
	snprintf(reqkey, sizeof reqkey, "{a:%lld}:req:%s", id, rid);
	snprintf(rl, sizeof rl, "{a:%lld}:rl:%lld", id, req->claims.user_id);
	snprintf(uid, sizeof uid, "%lld", req->claims.user_id);
	snprintf(q, sizeof q, "%lld", qty);
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	snprintf(aid, sizeof aid, "%lld", id);
	snprintf(ttl, sizeof ttl, "%ld", app->cfg.seckill_request_ttl);
	snprintf(rate, sizeof rate, "%ld", app->cfg.seckill_user_rate);
	const char *argv[] = {info, stock, users, intents, reqkey, rl,  stats,
			      uid,  q,     now,   rid,     aid,    ttl, rate};
	redisReply *r = cache_eval(app->cache, &purchase_script, 7, 14, argv);
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
	case 0:
		left = arg;
		req->data = json_pack("{s:s,s:s}", "requestId", rid, "status", "queued");
		rc = req->data ? 0 : E_SERVER;
		break;
	case 1:
		/* Ids are 128 random bits: this is our own call replayed by cache.c after a
		 * dropped link, and the first run queued it. */
		req->data = json_pack("{s:s,s:s}", "requestId", rid, "status", "queued");
		rc = req->data ? 0 : E_SERVER;
		break;
	case -1:
		rc = http_fail(req, E_ACTIVITY_NOT_FOUND, "activity not found or not loaded");
		break;
	case -2: rc = E_ACTIVITY_NOT_STARTED; break;
	case -3:
		rc = arg == ACTIVITY_CANCELLED
			 ? http_fail(req, E_ACTIVITY_ENDED, "activity cancelled")
			 : E_ACTIVITY_ENDED;
		break;
	case -4:
		left = arg;
		rc =
		    arg == 0 ? E_SOLD_OUT : http_fail(req, E_SOLD_OUT, "only %lld units left", arg);
		break;
	case -5:
		rc = http_fail(req, E_LIMIT_REACHED, "purchase limit reached: %lld held", arg);
		break;
	case -7:
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
	int rc;

	if ((rc = purchase_auth(app, req)) ||
	    (rc = param_int(req, "activityId", 1, 1, (long long)1 << 53, &id)) ||
	    (rc = param_str(req, "token", 1, 1, SECKILL_TOKEN_MAX, &token)) ||
	    (rc = param_int(req, "quantity", 0, 1, QUANTITY_MAX, &qty)) ||
	    (rc = purchase_url_id(req, id)))
		return rc;
	if (seckill_token_verify(app->cfg.seckill_token_secret, token, req->claims.user_id, id,
				 req->claims.jti, (long long)time(NULL)) < 0)
		return E_SECKILL_TOKEN;
	*idp = id; /* bound by the token: a real activity */
	if (memo_soldout(id)) {
		*by_memo = 1;
		return E_SOLD_OUT;
	}
	return purchase_run(app, req, id, qty);
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
	seckill_outcomes_init();
	app->metrics_refresh = seckill_writer_lag_refresh;
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
