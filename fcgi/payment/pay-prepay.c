/* pay-prepay.c - start a WeChat Pay payment of one's own order (JSAPI or Native), and its state. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ids.h"
#include "log.h"
#include "payment.h"

/* Load the caller's order into *order (sn, title, what to pay, state, deadline); an API code. */
static int pay_load_order(struct app *app, struct http_req *req, const char *sn, json_t **order)
{
	int rc = db_query_row(app->db, order,
			      "SELECT sn, user_id AS userId, title, pay_total AS payTotal, "
			      "trade_state AS tradeState, pay_deadline AS payDeadline "
			      "FROM flashsale_order.orders WHERE sn = ?",
			      "s", sn);
	if (rc)
		return err_from_db(rc);
	if (!*order ||
	    json_integer_value(json_object_get(*order, "userId")) != req->claims.user_id) {
		json_decref(*order);
		*order = NULL;
		return http_fail(req, E_ORDER_NOT_FOUND, "order not found");
	}
	return 0;
}

/* The payer's openid for JSAPI into out; an API code (100002 when the account has none). */
static int pay_openid(struct app *app, struct http_req *req, char *out, size_t len)
{
	json_t *row;
	int rc =
	    db_query_row(app->db, &row, "SELECT openid FROM flashsale_usercenter.user WHERE id = ?",
			 "i", req->claims.user_id);
	if (rc)
		return err_from_db(rc);
	const char *openid = row ? json_string_value(json_object_get(row, "openid")) : NULL;
	snprintf(out, len, "%s", openid ? openid : "");
	json_decref(row);
	if (!out[0])
		return http_fail(req, E_PARAM, "no WeChat openid on this account; use NATIVE");
	return 0;
}

/*
 * A waiting attempt of the same order, type and amount whose prepay is still
 * usable: WeChat answers the same prepay for the same out_trade_no, so a
 * second click reuses it instead of opening a second trade. DB_* rc.
 */
static int pay_find_reusable(struct app *app, const char *order_sn, const char *type,
			     long long total, json_t **row)
{
	return db_query_row(app->db, row,
			    "SELECT sn, prepay FROM flashsale_payment.payment "
			    "WHERE order_sn = ? AND trade_type = ? AND pay_total = ? "
			    "AND pay_status = 0 AND prepay <> '' ORDER BY id DESC LIMIT 1",
			    "ssi", order_sn, type, total);
}

/* The answer for a prepay: codeUrl (NATIVE) or the JSAPI parameters with paySign. */
static int pay_answer(struct payment_app *pa, struct http_req *req, const char *type,
		      const char *prepay)
{
	if (!strcmp(type, "NATIVE")) {
		req->data = json_pack("{s:s}", "codeUrl", prepay);
		return req->data ? 0 : E_SERVER;
	}
	if (wxpay_jsapi_params(pa->wx, prepay, &req->data) < 0)
		return http_fail(req, E_SERVER, "cannot sign the JSAPI parameters");
	return 0;
}

/* Is any attempt of the order already paid (the order may not be marked yet)? 1/0, or -rc. */
static int pay_order_has_paid(struct app *app, const char *order_sn)
{
	json_t *row;
	int rc = db_query_row(app->db, &row,
			      "SELECT 1 AS paid FROM flashsale_payment.payment "
			      "WHERE order_sn = ? AND pay_status IN (1, 2) LIMIT 1",
			      "s", order_sn);
	if (rc)
		return rc;
	json_decref(row);
	return row != NULL;
}

int pay_wxpay(struct app *app, struct http_req *req)
{
	struct payment_app *pa = app->domain;
	const char *order_sn, *service, *type = "JSAPI";
	char openid[72] = "", sn[ID_SN_MAX], prepay[WXPAY_PREPAY_MAX], err[256], desc[160];
	json_t *order = NULL, *reuse = NULL;
	long long now = (long long)time(NULL);
	int rc;

	if ((rc = param_str(req, "orderSn", 1, 1, 40, &order_sn)) ||
	    (rc = param_str(req, "serviceType", 1, 1, 16, &service)) ||
	    (rc = param_str(req, "tradeType", 0, 1, 16, &type)))
		return rc;
	if (!type)
		type = "JSAPI";
	if (strcmp(service, "order"))
		return http_fail(req, E_PARAM, "serviceType must be \"order\"");
	if (strcmp(type, "JSAPI") && strcmp(type, "NATIVE"))
		return http_fail(req, E_PARAM, "tradeType must be JSAPI or NATIVE");
	if ((rc = pay_load_order(app, req, order_sn, &order)))
		return rc;

	long long state = json_integer_value(json_object_get(order, "tradeState"));
	/* What the user pays: total_price less a coupon's discount. */
	long long total = json_integer_value(json_object_get(order, "payTotal"));
	long long deadline = json_integer_value(json_object_get(order, "payDeadline"));
	const char *title = json_string_value(json_object_get(order, "title"));
	if (state == 1 || state == 2 || state == 3) {
		rc = http_fail(req, E_PAYMENT_DONE, "order already paid");
		goto out;
	}
	if (state != 0) {
		rc = http_fail(req, E_PAYMENT_DONE, "order cancelled; payment closed");
		goto out;
	}
	if (deadline <= now) {
		rc = http_fail(req, E_PAYMENT_DONE, "payment window of this order has closed");
		goto out;
	}
	if (total <= 0) {
		rc = http_fail(req, E_PARAM, "orderSn: order total must be positive");
		goto out;
	}
	int paid = pay_order_has_paid(app, order_sn);
	if (paid != 0) {
		rc = paid < 0 ? err_from_db(paid)
			      : http_fail(req, E_PAYMENT_DONE, "order already paid");
		goto out;
	}
	if (!strcmp(type, "JSAPI") && (rc = pay_openid(app, req, openid, sizeof openid)))
		goto out;
	if (!pa->wx) {
		rc = http_fail(req, E_PAY_GATEWAY, "WeChat Pay is not configured");
		goto out;
	}

	if ((rc = pay_find_reusable(app, order_sn, type, total, &reuse))) {
		rc = err_from_db(rc);
		goto out;
	}
	if (reuse) {
		rc = pay_answer(pa, req, type, json_string_value(json_object_get(reuse, "prepay")));
		goto out;
	}

	id_sn_new(sn, sizeof sn, "PMT");
	rc =
	    db_exec(app->db,
		    "INSERT INTO flashsale_payment.payment (sn, order_sn, user_id, service_type, "
		    "trade_type, pay_total, pay_status, pay_deadline, create_time, update_time) "
		    "VALUES (?, ?, ?, 'order', ?, ?, 0, ?, ?, ?)",
		    "ssisiiii", sn, order_sn, req->claims.user_id, type, total, deadline, now, now);
	if (rc) {
		rc = err_from_db(rc);
		goto out;
	}
	snprintf(desc, sizeof desc, "%s", title && *title ? title : "flashsale order");
	struct wxpay_trade t = {.out_trade_no = sn,
				.description = desc,
				.total = total,
				.time_expire = deadline,
				.openid = openid[0] ? openid : NULL};
	int wrc = !strcmp(type, "NATIVE")
		      ? wxpay_prepay_native(pa->wx, &t, prepay, sizeof prepay, err, sizeof err)
		      : wxpay_prepay_jsapi(pa->wx, &t, prepay, sizeof prepay, err, sizeof err);
	if (wrc != WXPAY_OK) {
		log_json(LOG_ERROR, "wxpay prepay failed",
			 json_pack("{s:s,s:s,s:i}", "paymentSn", sn, "error", err, "rc", wrc));
		/* Refused outright: the attempt is over. Otherwise it may exist at WeChat:
		 * it stays waiting, and order-timeout queries and closes it. */
		if (wrc == WXPAY_REJECTED)
			payment_mark_closed(app->db, sn, "PREPAY_REJECTED");
		rc = http_fail(req, E_PAY_GATEWAY, "payment gateway error; try again");
		goto out;
	}
	rc = db_exec(app->db,
		     "UPDATE flashsale_payment.payment SET prepay = ?, trade_state = 'NOTPAY', "
		     "update_time = ? WHERE sn = ?",
		     "sis", prepay, now, sn);
	if (rc) {
		rc = err_from_db(rc);
		goto out;
	}
	rc = pay_answer(pa, req, type, prepay);
out:
	json_decref(order);
	json_decref(reuse);
	return rc;
}

int pay_detail(struct app *app, struct http_req *req)
{
	const char *order_sn;
	json_t *order = NULL, *row = NULL;
	int rc;

	if ((rc = param_str(req, "orderSn", 1, 1, 40, &order_sn)))
		return rc;
	if ((rc = pay_load_order(app, req, order_sn, &order)))
		return rc;
	json_decref(order);
	/* The paid attempt if there is one, else the latest. */
	rc = db_query_row(app->db, &row,
			  "SELECT sn, pay_status AS payStatus, pay_total AS payTotal, pay_time AS "
			  "payTime, transaction_id AS transactionId, trade_type AS tradeType "
			  "FROM flashsale_payment.payment WHERE order_sn = ? "
			  "ORDER BY pay_status IN (1, 2) DESC, id DESC LIMIT 1",
			  "s", order_sn);
	if (rc)
		return err_from_db(rc);
	if (!row)
		return http_fail(req, E_PAYMENT_NOT_FOUND, "no payment for this order");
	req->data = row;
	return 0;
}
