/* order-quote.c - what an order would cost: the breakdown with a coupon and the best usable one. */
#include "coupon.h"
#include "order.h"

/* The API view of the caller's coupon id (as coupon/mine shows it), or NULL. */
static json_t *quote_coupon(struct app *app, long long coupon_id)
{
	json_t *row = NULL;
	if (db_query_row(app->db, &row,
			 "SELECT c.id, c.template_id AS templateId, t.title, "
			 "IF(t.kind = 1, 'amount', 'discount') AS kind, t.amount, t.percent, "
			 "t.max_discount AS maxDiscount, t.min_spend AS minSpend, "
			 "c.valid_from AS validFrom, c.valid_to AS validTo "
			 "FROM flashsale_coupon.coupon c JOIN flashsale_coupon.template t "
			 "ON t.id = c.template_id WHERE c.id = ?",
			 "i", coupon_id))
		return NULL;
	return row;
}

int order_quote(struct app *app, struct http_req *req)
{
	long long product_id, quantity = 1, coupon_id = 0, best = 0, best_off = 0, discount = 0;
	const char *why = NULL;
	json_t *p = NULL;
	int rc;

	if ((rc = param_int(req, "productId", 1, 1, 9223372036854775807LL, &product_id)) ||
	    (rc = param_int(req, "quantity", 0, 1, 99, &quantity)) ||
	    (rc = param_int(req, "couponId", 0, 0, 9223372036854775807LL, &coupon_id)))
		return rc;
	rc = db_query_row(app->db, &p,
			  "SELECT price FROM flashsale_product.product WHERE id = ? AND "
			  "del_state = 0 AND status = 1",
			  "i", product_id);
	if (rc)
		return err_from_db(rc);
	if (!p)
		return E_PRODUCT_NOT_FOUND;
	long long price = json_integer_value(json_object_get(p, "price"));
	long long total = price * quantity;
	json_decref(p);
	rc = coupon_best(app->db, req->claims.user_id, product_id, total, &best, &best_off);
	if (!rc && coupon_id)
		rc = coupon_check(app->db, coupon_id, req->claims.user_id, product_id, total,
				  &discount, &why);
	if (rc > 0) /* COUPON_NOT_FOUND or COUPON_UNUSABLE, with why */
		return http_fail(req, coupon_err(rc), "%s", why);
	if (rc)
		return err_from_db(rc);
	json_t *coupon = coupon_id ? quote_coupon(app, coupon_id) : NULL;
	req->data = json_pack(
	    "{s:I, s:I, s:I, s:I, s:o, s:o, s:I}", "unitPrice", (json_int_t)price, "totalPrice",
	    (json_int_t)total, "discount", (json_int_t)discount, "payTotal",
	    (json_int_t)(total - discount), "coupon", coupon ? coupon : json_null(), "bestCouponId",
	    best ? json_integer(best) : json_null(), "bestDiscount", (json_int_t)best_off);
	return req->data ? 0 : E_SERVER;
}
