/* order-refund.c - a user's refund of their own paid order, and the refunds of an order. */
#include <stdio.h>
#include <string.h>

#include "order.h"
#include "refund.h"

/* Longest refund reason (WeChat takes 80 characters). */
#define ORDER_REASON_MAX 80

int order_refund_answer(struct app *app, struct http_req *req, int created, const char *sn)
{
	struct order_app *oa = app->domain;
	char status[16] = "PROCESSING";

	switch (created) {
	case REFUND_CREATED:
	case REFUND_EXISTING: break;
	case REFUND_NOT_FOUND: return E_ORDER_NOT_FOUND;
	case REFUND_NOT_PAID: return http_fail(req, E_ORDER_STATE, "order is not paid");
	case REFUND_NOT_ALLOWED:
		return http_fail(req, E_REFUND_NOT_ALLOWED,
				 "refund not allowed: window passed or amount above what is left");
	default: return err_from_db(created);
	}
	/* Ask WeChat now (again for an earlier request it never accepted). When it cannot be
	 * reached the refund stays PROCESSING and refund-query sends it with the same sn. */
	int rc = refund_submit(app->db, app->cache, oa ? oa->bus : NULL, oa ? oa->wx : NULL, sn,
			       status, sizeof status);
	if (rc == DB_DOWN)
		return err_from_db(rc);
	req->data = json_pack("{s:s,s:s}", "refundSn", sn, "status", status);
	return req->data ? 0 : E_SERVER;
}

int order_refund(struct app *app, struct http_req *req)
{
	const char *sn, *reason;
	char rsn[REFUND_SN_MAX + 8];
	int rc;

	if ((rc = param_str(req, "sn", 1, 1, ORDER_SN_MAX, &sn)) ||
	    (rc = param_str(req, "reason", 1, 1, ORDER_REASON_MAX, &reason)))
		return rc;
	struct refund_ask a = {.order_sn = sn,
			       .user_id = req->claims.user_id,
			       .amount = 0,
			       .reason = reason,
			       .source = "user",
			       .window = app->cfg.order_refund_window};
	rc = refund_create(app->db, &a, rsn, sizeof rsn);
	return order_refund_answer(app, req, rc, rsn);
}

int order_refunds(struct app *app, struct http_req *req)
{
	const char *sn;
	json_t *own = NULL, *rows = NULL;
	int rc;

	if ((rc = param_str(req, "sn", 1, 1, ORDER_SN_MAX, &sn)))
		return rc;
	rc = db_query_row(app->db, &own,
			  "SELECT id FROM flashsale_order.orders WHERE sn = ? AND user_id = ?",
			  "si", sn, req->claims.user_id);
	if (rc)
		return err_from_db(rc);
	if (!own)
		return E_ORDER_NOT_FOUND;
	json_decref(own);
	rc = db_query(app->db, &rows,
		      "SELECT sn AS refundSn, amount, status, reason, source, "
		      "create_time AS createTime, success_time AS successTime "
		      "FROM flashsale_payment.refund WHERE order_sn = ? ORDER BY id DESC LIMIT 100",
		      "s", sn);
	if (rc)
		return err_from_db(rc);
	req->data = json_pack("{s:o}", "list", rows);
	return 0;
}
