/* order-caps.c - caps on what one user holds unpaid, against hoarding stock for the payment
 * window: open unpaid orders (order.max_unpaid_orders) and unpaid units of one product
 * (order.max_unpaid_units). Over a cap: 100007 with Retry-After until the oldest expires. */
#include "order.h"

int order_unpaid_caps(struct app *app, struct http_req *req, long long product_id,
		      long long quantity)
{
	json_t *row = NULL;
	/* Runs in the creation's transaction after the product row is locked, so two orders of
	 * one product by one user cannot both pass the units cap. */
	int rc = db_query_row(
	    app->db, &row,
	    "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(IF(product_id = ?, "
	    "quantity, 0)), 0) AS SIGNED) AS units, "
	    "CAST(COALESCE(MIN(pay_deadline), 0) AS SIGNED) AS first_deadline, "
	    "UNIX_TIMESTAMP() AS now FROM flashsale_order.orders "
	    "WHERE user_id = ? AND trade_state = 0 AND pay_deadline > UNIX_TIMESTAMP()",
	    "ii", product_id, req->claims.user_id);
	if (rc)
		return err_from_db(rc);
	long long n = json_integer_value(json_object_get(row, "n"));
	long long units = json_integer_value(json_object_get(row, "units"));
	long long wait = json_integer_value(json_object_get(row, "first_deadline")) -
			 json_integer_value(json_object_get(row, "now"));
	json_decref(row);
	req->retry_after = wait > 0 ? wait : 1;
	if (n >= app->cfg.order_max_unpaid_orders)
		return http_fail(req, E_RATE_LIMIT,
				 "%lld unpaid orders already: pay or cancel one first", n);
	if (units + quantity > app->cfg.order_max_unpaid_units)
		return http_fail(req, E_RATE_LIMIT,
				 "at most %ld unpaid units of this product per user (%lld held)",
				 app->cfg.order_max_unpaid_units, units);
	req->retry_after = 0;
	return 0;
}
