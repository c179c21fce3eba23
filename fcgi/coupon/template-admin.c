/* template-admin.c - admin: create a coupon template (flash ones loaded into Redis), stop one. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "coupon-fcgi.h"
#include "log.h"

#define TEMPLATE_MAX_TOTAL    10000000
#define TEMPLATE_MAX_MONEY    100000000000LL
#define TEMPLATE_MAX_TIME     4102444800LL
#define TEMPLATE_MAX_PRODUCTS 50

/* Load a flash template's state unless it is there: never overwrites live state. */
static struct cache_script load_script = {
    .src = "if redis.call('HEXISTS', KEYS[1], 'start') == 1 then return 0 end\n"
	   "redis.call('HSET', KEYS[1], 'start', ARGV[1], 'end', ARGV[2], 'limit', ARGV[3], "
	   "'status', ARGV[4])\n"
	   "redis.call('SET', KEYS[2], ARGV[5])\n"
	   "return 1\n",
};

/* The create request's fields, validated. */
struct template_new {
	const char *title;
	long long kind, amount, percent, max_discount, min_spend, total, limit;
	long long valid_from, valid_to, valid_days, flash, start;
	char products[TEMPLATE_MAX_PRODUCTS * 21 + 1];
};

/* productIds: an array of positive integers (empty or absent: any product). */
static int template_products(struct http_req *req, struct template_new *t)
{
	json_t *a = json_object_get(req->params, "productIds"), *v;
	size_t i, off = 0;
	t->products[0] = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > TEMPLATE_MAX_PRODUCTS)
		return http_fail(req, E_PARAM, "productIds must be an array of at most %d ids",
				 TEMPLATE_MAX_PRODUCTS);
	json_array_foreach(a, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return http_fail(req, E_PARAM, "productIds must hold positive integers");
		off += (size_t)snprintf(t->products + off, sizeof t->products - off, "%s%lld",
					off ? "," : "", (long long)json_integer_value(v));
	}
	return 0;
}

/* kind and its amounts. */
static int template_kind(struct http_req *req, struct template_new *t)
{
	const char *kind;
	int rc = param_str(req, "kind", 1, 1, 16, &kind);
	if (rc)
		return rc;
	if (!strcmp(kind, "amount")) {
		t->kind = 1;
		return param_int(req, "amount", 1, 1, TEMPLATE_MAX_MONEY, &t->amount);
	}
	if (!strcmp(kind, "discount")) {
		t->kind = 2;
		if ((rc = param_int(req, "percent", 1, 1, 99, &t->percent)) ||
		    (rc =
			 param_int(req, "maxDiscount", 0, 0, TEMPLATE_MAX_MONEY, &t->max_discount)))
			return rc;
		return 0;
	}
	return http_fail(req, E_PARAM, "kind must be \"amount\" or \"discount\"");
}

/* validFrom/validTo or validDays, flash and startTime. */
static int template_window(struct http_req *req, struct template_new *t)
{
	long long now = (long long)time(NULL);
	json_t *flash = json_object_get(req->params, "flash");
	int rc;
	if ((rc = param_int(req, "validDays", 0, 1, 3650, &t->valid_days)) ||
	    (rc = param_int(req, "validFrom", 0, 0, TEMPLATE_MAX_TIME, &t->valid_from)) ||
	    (rc = param_int(req, "validTo", 0, 1, TEMPLATE_MAX_TIME, &t->valid_to)))
		return rc;
	if (t->valid_days && (t->valid_from || t->valid_to))
		return http_fail(req, E_PARAM, "validDays excludes validFrom/validTo");
	if (!t->valid_days) {
		if (!t->valid_to)
			return http_fail(req, E_PARAM, "validTo (or validDays) is required");
		if (t->valid_to <= t->valid_from || t->valid_to <= now)
			return http_fail(req, E_PARAM,
					 "validTo must be after validFrom and in the future");
	}
	if (flash && !json_is_boolean(flash) && !json_is_null(flash))
		return http_fail(req, E_PARAM, "flash must be a boolean");
	t->flash = json_is_true(flash);
	if (t->flash && (rc = param_int(req, "startTime", 1, 0, TEMPLATE_MAX_TIME, &t->start)))
		return rc;
	if (t->flash && !t->valid_days && t->start >= t->valid_to)
		return http_fail(req, E_PARAM, "startTime must be before validTo");
	return 0;
}

/* Read and check the create request. */
static int template_params(struct http_req *req, struct template_new *t)
{
	int rc;
	if ((rc = param_str(req, "title", 1, 1, 64, &t->title)) || (rc = template_kind(req, t)) ||
	    (rc = param_int(req, "minSpend", 0, 0, TEMPLATE_MAX_MONEY, &t->min_spend)) ||
	    (rc = param_int(req, "total", 1, 1, TEMPLATE_MAX_TOTAL, &t->total)) ||
	    (rc = param_int(req, "perUserLimit", 1, 1, 1000, &t->limit)) ||
	    (rc = template_window(req, t)) || (rc = template_products(req, t)))
		return rc;
	return 0;
}

int coupon_flash_load(struct app *app, long long id)
{
	char info[64], left[64], stream[64], a[5][24];
	json_t *t = NULL;
	int rc = db_query_row(app->db, &t,
			      "SELECT start_time, IF(valid_days > 0, 0, valid_to) AS end_time, "
			      "per_user_limit, status, total - issued AS left_n, flash "
			      "FROM flashsale_coupon.template WHERE id = ?",
			      "i", id);
	if (rc)
		return rc;
	if (!t || !json_integer_value(json_object_get(t, "flash"))) {
		json_decref(t);
		return COUPON_NOT_FOUND;
	}
	static const char *const cols[] = {"start_time", "end_time", "per_user_limit", "status",
					   "left_n"};
	for (int i = 0; i < 5; i++)
		snprintf(a[i], sizeof a[i], "%lld",
			 (long long)json_integer_value(json_object_get(t, cols[i])));
	json_decref(t);
	coupon_key(info, sizeof info, id, "info");
	coupon_key(left, sizeof left, id, "left");
	coupon_key(stream, sizeof stream, id, "claims");
	const char *argv[] = {info, left, a[0], a[1], a[2], a[3], a[4]};
	redisReply *r = cache_eval(app->cache, &load_script, 2, 7, argv);
	if (!r)
		return DB_CACHE_DOWN;
	rc = r->type == REDIS_REPLY_ERROR ? DB_ERR : DB_OK;
	freeReplyObject(r);
	/* The writer's group first, so no claim is ever added before someone reads it. */
	if ((r = cache_command(app->cache, "XGROUP CREATE %s %s 0 MKSTREAM", stream, COUPON_GROUP)))
		freeReplyObject(r); /* BUSYGROUP: it exists */
	if ((r = cache_command(app->cache, "SADD %s %s", COUPON_STREAMS_KEY, stream)))
		freeReplyObject(r);
	else
		rc = DB_CACHE_DOWN;
	return rc;
}

int coupon_template_create(struct app *app, struct http_req *req)
{
	struct template_new t;
	memset(&t, 0, sizeof t);
	int rc = template_params(req, &t);
	if (rc)
		return rc;
	rc = db_exec(
	    app->db,
	    "INSERT INTO flashsale_coupon.template (title, kind, amount, percent, "
	    "max_discount, min_spend, total, per_user_limit, valid_from, valid_to, "
	    "valid_days, product_ids, flash, start_time, status, create_time, update_time) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, UNIX_TIMESTAMP(), "
	    "UNIX_TIMESTAMP())",
	    "siiiiiiiiiisii", t.title, t.kind, t.amount, t.percent, t.max_discount, t.min_spend,
	    t.total, t.limit, t.valid_from, t.valid_to, t.valid_days, t.products, t.flash, t.start);
	if (rc)
		return coupon_code_of(req, rc, NULL);
	long long id = db_insert_id(app->db);
	if (t.flash && (rc = coupon_flash_load(app, id)))
		log_warn("flash template %lld not loaded into Redis (%d): claims load it", id, rc);
	log_json(LOG_INFO, "coupon template created",
		 json_pack("{s:I, s:s, s:I, s:b}", "id", (json_int_t)id, "title", t.title, "total",
			   (json_int_t)t.total, "flash", (int)t.flash));
	req->data = json_pack("{s:I}", "id", (json_int_t)id);
	return 0;
}

int coupon_template_stop(struct app *app, struct http_req *req)
{
	long long id;
	char info[64];
	json_t *row = NULL;
	int rc = param_int(req, "id", 1, 1, (long long)1 << 53, &id);
	if (rc)
		return rc;
	if ((rc =
		 db_query_row(app->db, &row,
			      "SELECT flash FROM flashsale_coupon.template WHERE id = ?", "i", id)))
		return coupon_code_of(req, rc, NULL);
	if (!row)
		return E_COUPON_NOT_FOUND;
	long long flash = json_integer_value(json_object_get(row, "flash"));
	json_decref(row);
	rc = db_exec(app->db,
		     "UPDATE flashsale_coupon.template SET status = 1, update_time = "
		     "UNIX_TIMESTAMP() WHERE id = ?",
		     "i", id);
	if (rc)
		return coupon_code_of(req, rc, NULL);
	if (flash) {
		/* On one never loaded this leaves a partial hash (no start): it reads as "not
		 * loaded", and loading fills it from MySQL, stopped. */
		coupon_key(info, sizeof info, id, "info");
		redisReply *r = cache_command(app->cache, "HSET %s status 1", info);
		if (!r)
			return E_DB_BUSY; /* MySQL says stopped; a retry stops Redis too */
		freeReplyObject(r);
	}
	return 0;
}
