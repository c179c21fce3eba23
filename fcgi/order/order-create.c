/* order-create.c - a normal order: take the product's stock and insert the order, atomically. */
#include "coupon.h"
#include "ids.h"
#include "log.h"
#include "order.h"
#include "stock.h"

/*
 * In the order's transaction: lock the caller's coupon to order sn (common/coupon.c) and set
 * the order's discount (pay_total follows). 0, or an API code.
 */
static int order_coupon_apply(struct app *app, struct http_req *req, long long coupon_id,
			      long long product_id, long long total, const char *sn)
{
	const char *why = NULL;
	long long discount = 0;
	int rc = coupon_lock(app->db, coupon_id, req->claims.user_id, product_id, total, sn,
			     &discount, &why);
	if (rc > 0) /* COUPON_NOT_FOUND or COUPON_UNUSABLE, with why */
		return http_fail(req, coupon_err(rc), "%s", why);
	if (!rc)
		rc = db_exec(app->db,
			     "UPDATE flashsale_order.orders SET coupon_id = ?, discount = ? "
			     "WHERE sn = ?",
			     "iis", coupon_id, discount, sn);
	return rc ? err_from_db(rc) : 0;
}

/*
 * In the open transaction: lock the product (on shelf, not deleted), take the
 * units and insert the order. 0, or an API code (the caller rolls back).
 */
static int order_create_tx(struct app *app, struct http_req *req, long long product_id,
			   long long quantity, const char *remark, const char *sn,
			   long long coupon_id)
{
	json_t *p = NULL;
	int rc =
	    db_query_row(app->db, &p,
			 "SELECT merchant_id, title, cover, price FROM flashsale_product.product "
			 "WHERE id = ? AND del_state = 0 AND status = 1 FOR UPDATE",
			 "i", product_id);
	if (rc) {
		rc = err_from_db(rc);
		goto out;
	}
	if (!p) {
		rc = E_PRODUCT_NOT_FOUND;
		goto out;
	}
	if ((rc = order_unpaid_caps(app, req, product_id, quantity)))
		goto out;
	rc = stock_product_take(app->db, product_id, quantity);
	if (rc == STOCK_SHORT) {
		rc = E_STOCK_SHORT;
		goto out;
	}
	if (rc) {
		rc = err_from_db(rc);
		goto out;
	}
	long long price = json_integer_value(json_object_get(p, "price"));
	rc = db_exec(app->db,
		     "INSERT INTO flashsale_order.orders (sn, user_id, product_id, activity_id, "
		     "order_type, merchant_id, title, cover, quantity, unit_price, total_price, "
		     "trade_state, remark, pay_deadline, create_time, update_time) "
		     "VALUES (?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, 0, ?, UNIX_TIMESTAMP() + ?, "
		     "UNIX_TIMESTAMP(), UNIX_TIMESTAMP())",
		     "siiissiiisi", sn, req->claims.user_id, product_id,
		     (long long)json_integer_value(json_object_get(p, "merchant_id")),
		     json_string_value(json_object_get(p, "title")),
		     json_string_value(json_object_get(p, "cover")), quantity, price,
		     price * quantity, remark ? remark : "", (long long)app->cfg.order_pay_timeout);
	if (rc)
		rc = err_from_db(rc);
	else if (coupon_id)
		rc = order_coupon_apply(app, req, coupon_id, product_id, price * quantity, sn);
out:
	json_decref(p);
	return rc;
}

int order_create(struct app *app, struct http_req *req)
{
	long long product_id, quantity, coupon_id = 0;
	const char *remark = NULL;
	char sn[ID_SN_MAX];
	int rc;

	if ((rc = param_int(req, "productId", 1, 1, 9223372036854775807LL, &product_id)) ||
	    (rc = param_int(req, "quantity", 1, 1, 99, &quantity)) ||
	    (rc = param_str(req, "remark", 0, 0, 255, &remark)) ||
	    (rc = param_int(req, "couponId", 0, 0, 9223372036854775807LL, &coupon_id)))
		return rc;
	if (id_sn_new(sn, sizeof sn, "ORD") < 0)
		return E_SERVER;
	if ((rc = db_begin(app->db)))
		return err_from_db(rc);
	rc = order_create_tx(app, req, product_id, quantity, remark, sn, coupon_id);
	if (rc) {
		db_rollback(app->db);
		return rc;
	}
	if ((rc = db_commit(app->db)))
		return err_from_db(rc);
	stock_product_uncache(app->cache, product_id);
	log_json(LOG_INFO, "order created",
		 json_pack("{s:s, s:I, s:I}", "sn", sn, "productId", (json_int_t)product_id,
			   "quantity", (json_int_t)quantity));
	req->data = json_pack("{s:s}", "orderSn", sn);
	return 0;
}
