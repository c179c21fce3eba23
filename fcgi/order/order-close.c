/* order-close.c - before a user cancels a waiting order, close its open trades at WeChat, as
 * order-timeout does, so the payer cannot pay an order that is gone. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "order.h"

/* Query attempt psn and apply it if it is paid; 1 paid, 0 not. */
static int order_close_paid(struct app *app, struct order_app *oa, const char *psn)
{
	char err[256];
	json_t *trade = NULL;
	struct wxpay_txn x;
	int paid = 0;
	if (wxpay_query(oa->wx, psn, &trade, err, sizeof err) == WXPAY_OK &&
	    wxpay_txn_parse(trade, &x) == 0 && !strcmp(x.out_trade_no, psn) &&
	    wxpay_txn_ours(oa->wx, &x)) {
		int rc = payment_apply(app->db, oa->bus, &x);
		paid = rc == PAY_APPLIED || rc == PAY_ALREADY || rc == PAY_PUBLISH;
	}
	json_decref(trade);
	return paid;
}

int order_close_trades(struct app *app, struct http_req *req, const char *sn)
{
	struct order_app *oa = app->domain;
	json_t *rows = NULL, *row;
	size_t i;
	char err[256];
	int paid = 0;

	if (!oa || !oa->wx)
		return 0;
	/* Only the owner's waiting order: nobody closes another user's trades. */
	int rc =
	    db_query(app->db, &rows,
		     "SELECT p.sn FROM flashsale_payment.payment p JOIN flashsale_order.orders o "
		     "ON o.sn = p.order_sn WHERE p.order_sn = ? AND o.user_id = ? "
		     "AND o.trade_state = 0 AND p.pay_status = 0 ORDER BY p.id",
		     "si", sn, req->claims.user_id);
	if (rc)
		return err_from_db(rc);
	json_array_foreach(rows, i, row)
	{
		const char *psn = json_string_value(json_object_get(row, "sn"));
		int w = wxpay_close(oa->wx, psn, err, sizeof err);
		if (w == WXPAY_OK || w == WXPAY_NOT_FOUND) {
			payment_mark_closed(app->db, psn, w == WXPAY_OK ? "CLOSED" : "NOT_FOUND");
		} else if (w == WXPAY_PAID) {
			paid |= order_close_paid(app, oa, psn);
		} else {
			/* WeChat unreachable: cancel anyway. order-timeout closes the trade later,
			 * and money that still comes is refunded in full (a late payment). */
			log_json(LOG_WARN, "wxpay close failed; cancelling anyway",
				 json_pack("{s:s,s:s}", "paymentSn", psn, "error", err));
		}
	}
	json_decref(rows);
	if (paid)
		return http_fail(req, E_ORDER_STATE,
				 "the order was just paid; it cannot be cancelled");
	return 0;
}
