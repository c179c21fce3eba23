/* activity-admin.c - admin: create an activity (units leave the product), cancel one. */
#include <time.h>

#include "activity.h"
#include "log.h"
#include "seckill.h"
#include "stock.h"

#define ACTIVITY_MAX_STOCK  1000000
#define ACTIVITY_MAX_WINDOW (366LL * 86400)

/* The create request's fields, validated. */
struct activity_new {
	long long product_id, price, stock, limit, start, end;
	/* against scalpers */
	long long reservation, pow, min_age, addr_cap, verified;
};

#define ACTIVITY_MAX_POW 10000000LL /* maxnumber of a challenge: ~5 M hashes on average */

/* An optional boolean field (0 if absent). 0 or E_PARAM. */
static int activity_bool(struct http_req *req, const char *name, long long *out)
{
	json_t *v = json_object_get(req->params, name);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return http_fail(req, E_PARAM, "%s must be true or false", name);
	*out = json_is_true(v);
	return 0;
}

/* Read and check the create request. */
static int activity_new_params(struct http_req *req, struct activity_new *a)
{
	int rc;
	long long now = (long long)time(NULL);
	if ((rc = param_int(req, "productId", 1, 1, (long long)1 << 53, &a->product_id)) ||
	    (rc = param_int(req, "seckillPrice", 1, 0, 100000000000LL, &a->price)) ||
	    (rc = param_int(req, "stock", 1, 1, ACTIVITY_MAX_STOCK, &a->stock)) ||
	    (rc = param_int(req, "perUserLimit", 1, 1, ACTIVITY_MAX_STOCK, &a->limit)) ||
	    (rc = param_int(req, "startTime", 1, 0, 4102444800LL, &a->start)) ||
	    (rc = param_int(req, "endTime", 1, 1, 4102444800LL, &a->end)) ||
	    (rc = activity_bool(req, "requireReservation", &a->reservation)) ||
	    (rc = activity_bool(req, "requireVerifiedMobile", &a->verified)) ||
	    (rc = param_int(req, "powDifficulty", 0, 0, ACTIVITY_MAX_POW, &a->pow)) ||
	    (rc = param_int(req, "minAccountAge", 0, 0, 10LL * 366 * 86400, &a->min_age)) ||
	    (rc = param_int(req, "maxAccountsPerAddress", 0, 0, ACTIVITY_MAX_STOCK, &a->addr_cap)))
		return rc;
	if (a->pow > 0 && a->pow < 1000)
		return http_fail(req, E_PARAM, "powDifficulty must be 0 (off) or at least 1000");
	if (a->end <= a->start)
		return http_fail(req, E_PARAM, "endTime must be after startTime");
	if (a->end <= now)
		return http_fail(req, E_PARAM, "endTime must be in the future");
	if (a->end - a->start > ACTIVITY_MAX_WINDOW)
		return http_fail(req, E_PARAM, "endTime must be within a year of startTime");
	return 0;
}

/* In one transaction: the product's units move into a new activity row. */
static int activity_insert(struct app *app, struct http_req *req, const struct activity_new *a,
			   long long *id)
{
	json_t *p = NULL;
	int rc = db_begin(app->db);
	if (rc)
		return err_from_db(rc);
	rc = db_query_row(app->db, &p,
			  "SELECT title, cover, price, merchant_id FROM flashsale_product.product "
			  "WHERE id = ? AND del_state = 0 FOR UPDATE",
			  "i", a->product_id);
	if (rc) {
		rc = err_from_db(rc);
		goto fail;
	}
	if (!p) {
		rc = E_PRODUCT_NOT_FOUND;
		goto fail;
	}
	rc = stock_product_take(app->db, a->product_id, a->stock);
	if (rc == STOCK_SHORT) {
		rc = http_fail(req, E_STOCK_SHORT, "the product has fewer than %lld units",
			       a->stock);
		goto fail;
	}
	if (rc) {
		rc = err_from_db(rc);
		goto fail;
	}
	rc = db_exec(
	    app->db,
	    "INSERT INTO flashsale_seckill.activity (product_id, merchant_id, title, cover, "
	    "price, seckill_price, stock, per_user_limit, start_time, end_time, status, "
	    "require_reservation, pow_difficulty, min_account_age, max_accounts_per_address, "
	    "require_verified_mobile, create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, 0, ?, ?, ?, ?, ?, UNIX_TIMESTAMP(), UNIX_TIMESTAMP())",
	    "iissiiiiiiiiiii", a->product_id,
	    (long long)json_integer_value(json_object_get(p, "merchant_id")),
	    json_string_value(json_object_get(p, "title")),
	    json_string_value(json_object_get(p, "cover")),
	    (long long)json_integer_value(json_object_get(p, "price")), a->price, a->stock,
	    a->limit, a->start, a->end, a->reservation, a->pow, a->min_age, a->addr_cap,
	    a->verified);
	if (rc) {
		rc = err_from_db(rc);
		goto fail;
	}
	*id = db_insert_id(app->db);
	rc = db_commit(app->db);
	if (rc) {
		rc = err_from_db(rc);
		goto fail;
	}
	json_decref(p);
	return 0;
fail:
	db_rollback(app->db);
	json_decref(p);
	return rc;
}

int seckill_activity_create(struct app *app, struct http_req *req)
{
	struct activity_new a = {0};
	long long id = 0;
	int rc = activity_new_params(req, &a);
	if (rc)
		return rc;
	rc = activity_insert(app, req, &a, &id);
	if (rc)
		return rc;
	stock_product_uncache(app->cache, a.product_id);
	/* Preheat loads it later if Redis is down now; the activity exists either way. */
	rc = activity_cache_load(app->db, app->cache, id);
	if (rc != DB_CHANGED && rc != DB_UNCHANGED)
		log_warn("activity %lld created but not loaded into Redis (%d)", id, rc);
	log_info("activity %lld created: product %lld, %lld units", id, a.product_id, a.stock);
	req->data = json_pack("{s:I}", "id", (json_int_t)id);
	return req->data ? 0 : E_SERVER;
}

int seckill_activity_cancel(struct app *app, struct http_req *req)
{
	long long id, unsold = 0;
	int rc = param_int(req, "id", 1, 1, (long long)1 << 53, &id);
	if (rc)
		return rc;
	rc = activity_close(app->db, app->cache, id, ACTIVITY_CANCELLED, &unsold);
	if (rc == DB_NOT_FOUND)
		return E_ACTIVITY_NOT_FOUND;
	if (rc == DB_UNCHANGED) {
		/* Cancelling twice is harmless; an activity that ended cannot be cancelled. */
		json_t *row = NULL;
		rc = db_query_row(app->db, &row,
				  "SELECT status FROM flashsale_seckill.activity WHERE id = ?", "i",
				  id);
		if (rc)
			return err_from_db(rc);
		long long st = row ? json_integer_value(json_object_get(row, "status")) : -1;
		json_decref(row);
		if (st == ACTIVITY_CANCELLED)
			return 0;
		return http_fail(req, E_ACTIVITY_ENDED, "activity already ended");
	}
	if (rc)
		return err_from_db(rc);
	return 0;
}
