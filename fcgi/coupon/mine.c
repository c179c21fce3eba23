/* mine.c - the caller's coupons, optionally of one status (expired: unused past validTo). */
#include <string.h>
#include <time.h>

#include "coupon-fcgi.h"

int coupon_mine(struct app *app, struct http_req *req)
{
	const char *status = NULL;
	long long now = (long long)time(NULL);
	json_t *rows = NULL, *row;
	size_t i;
	int rc = param_str(req, "status", 0, 1, 16, &status);
	if (rc)
		return rc;
	if (status && strcmp(status, "unused") && strcmp(status, "locked") &&
	    strcmp(status, "used") && strcmp(status, "expired"))
		return http_fail(req, E_PARAM, "status must be unused, locked, used or expired");
	rc = db_query(
	    app->db, &rows,
	    "SELECT * FROM (SELECT c.id, c.template_id AS templateId, t.title, "
	    "IF(t.kind = 1, 'amount', 'discount') AS kind, t.amount, t.percent, "
	    "t.max_discount AS maxDiscount, t.min_spend AS minSpend, t.product_ids AS productIds, "
	    "c.valid_from AS validFrom, c.valid_to AS validTo, "
	    "CASE WHEN c.status = 1 THEN 'locked' WHEN c.status = 2 THEN 'used' "
	    "WHEN c.valid_to <= ? THEN 'expired' ELSE 'unused' END AS status, "
	    "c.order_sn AS orderSn, c.claim_time AS claimTime "
	    "FROM flashsale_coupon.coupon c JOIN flashsale_coupon.template t "
	    "ON t.id = c.template_id WHERE c.user_id = ?) x "
	    "WHERE (? = '' OR x.status = ?) ORDER BY x.id DESC LIMIT 500",
	    "iiss", now, req->claims.user_id, status ? status : "", status ? status : "");
	if (rc)
		return coupon_code_of(req, rc, NULL);
	json_array_foreach(rows, i, row) json_object_set_new(
	    row, "productIds",
	    coupon_product_list(json_string_value(json_object_get(row, "productIds"))));
	req->data = json_pack("{s:o}", "list", rows);
	return req->data ? 0 : E_SERVER;
}
