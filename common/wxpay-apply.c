/* wxpay-apply.c - record a transaction WeChat vouched for on its payment row, exactly once. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "log.h"
#include "refund.h"
#include "wxpay-impl.h"

/* Copy a string member of o into dst (size cap); -1 if absent (and required) or too long. */
static int wxpay_txn_str(json_t *o, const char *key, int required, char *dst, size_t cap)
{
	const char *v = json_string_value(json_object_get(o, key));
	dst[0] = 0;
	if (!v)
		return required ? -1 : 0;
	if (strlen(v) >= cap || (required && !*v))
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int wxpay_txn_parse(json_t *t, struct wxpay_txn *x)
{
	memset(x, 0, sizeof *x);
	json_t *total = json_object_get(json_object_get(t, "amount"), "total");
	if (!json_is_object(t) || wxpay_txn_str(t, "mchid", 1, x->mchid, sizeof x->mchid) ||
	    wxpay_txn_str(t, "appid", 1, x->appid, sizeof x->appid) ||
	    wxpay_txn_str(t, "out_trade_no", 1, x->out_trade_no, sizeof x->out_trade_no) ||
	    wxpay_txn_str(t, "trade_state", 1, x->trade_state, sizeof x->trade_state) ||
	    wxpay_txn_str(t, "transaction_id", 0, x->transaction_id, sizeof x->transaction_id) ||
	    !json_is_integer(total) || json_integer_value(total) < 0)
		return -1;
	x->total = json_integer_value(total);
	const char *st = json_string_value(json_object_get(t, "success_time"));
	x->success_time = st ? wxpay_time_parse(st) : 0;
	if (!strcmp(x->trade_state, "SUCCESS") && (!x->transaction_id[0] || x->success_time < 0))
		return -1;
	return 0;
}

int wxpay_txn_ours(struct wxpay *w, const struct wxpay_txn *x)
{
	return !strcmp(x->mchid, w->mchid) && !strcmp(x->appid, w->appid);
}

/* Publish payment.status for a paid payment row (as loaded by payment_apply). 0/-1. */
static int payment_publish(struct event_bus *bus, json_t *row)
{
	const char *order_sn = json_string_value(json_object_get(row, "orderSn"));
	json_t *ev = json_pack(
	    "{s:O,s:O,s:O,s:i,s:O,s:O,s:O,s:O,s:s}", "paymentSn", json_object_get(row, "sn"),
	    "orderSn", json_object_get(row, "orderSn"), "userId", json_object_get(row, "userId"),
	    "payStatus", 1, "payTotal", json_object_get(row, "payTotal"), "payTime",
	    json_object_get(row, "payTime"), "transactionId", json_object_get(row, "transactionId"),
	    "tradeType", json_object_get(row, "tradeType"), "payType", "wxpay");
	int rc = bus && ev && order_sn ? event_publish(bus, "payment.status", order_sn, ev) : -1;
	if (rc < 0)
		log_json(LOG_ERROR, "payment.status not published",
			 json_pack("{s:O?}", "paymentSn", json_object_get(row, "sn")));
	json_decref(ev);
	return rc;
}

/* Load the payment row of out_trade_no: DB_* rc, *row NULL if none. */
static int payment_load(struct db *db, const char *sn, json_t **row)
{
	return db_query_row(db, row,
			    "SELECT sn, order_sn AS orderSn, user_id AS userId, trade_type AS "
			    "tradeType, pay_total AS payTotal, pay_status AS payStatus, "
			    "transaction_id AS transactionId, pay_time AS payTime, version "
			    "FROM flashsale_payment.payment WHERE sn = ?",
			    "s", sn);
}

int payment_mark_closed(struct db *db, const char *sn, const char *trade_state)
{
	return db_exec(db,
		       "UPDATE flashsale_payment.payment SET pay_status = -1, trade_state = ?, "
		       "version = version + 1, update_time = UNIX_TIMESTAMP() "
		       "WHERE sn = ? AND pay_status = 0",
		       "ss", trade_state, sn);
}

int payment_apply(struct db *db, struct event_bus *bus, const struct wxpay_txn *x)
{
	json_t *row = NULL;
	int rc = DB_ERR;
	long long pay_time = x->success_time > 0 ? x->success_time : (long long)time(NULL);

	/* A concurrent writer can bump the version between our read and update: read again. */
	for (int attempt = 0; attempt < 3; attempt++) {
		json_decref(row);
		row = NULL;
		int db_rc = payment_load(db, x->out_trade_no, &row);
		if (db_rc) {
			rc = db_rc == DB_DOWN ? DB_DOWN : DB_ERR;
			goto out;
		}
		if (!row) {
			rc = PAY_NOT_FOUND;
			goto out;
		}
		if (json_integer_value(json_object_get(row, "payTotal")) != x->total) {
			rc = PAY_MISMATCH;
			goto out;
		}
		long long status = json_integer_value(json_object_get(row, "payStatus"));
		if (strcmp(x->trade_state, "SUCCESS")) {
			/* Not paid: a waiting attempt that WeChat closed or failed is over. */
			rc = PAY_IGNORED;
			if (status == 0 && (!strcmp(x->trade_state, "CLOSED") ||
					    !strcmp(x->trade_state, "PAYERROR") ||
					    !strcmp(x->trade_state, "REVOKED")))
				if (payment_mark_closed(db, x->out_trade_no, x->trade_state) ==
				    DB_DOWN)
					rc = DB_DOWN;
			goto out;
		}
		if (status == 1 || status == 2) {
			rc = status == 1 && payment_publish(bus, row) < 0 ? PAY_PUBLISH
									  : PAY_ALREADY;
			goto out;
		}
		db_rc =
		    db_exec(db,
			    "UPDATE flashsale_payment.payment SET pay_status = 1, trade_state = "
			    "'SUCCESS', transaction_id = ?, pay_time = ?, version = version + 1, "
			    "update_time = UNIX_TIMESTAMP() "
			    "WHERE sn = ? AND pay_status IN (0, -1) AND version = ?",
			    "sisi", x->transaction_id, pay_time, x->out_trade_no,
			    (long long)json_integer_value(json_object_get(row, "version")));
		if (db_rc) {
			rc = db_rc == DB_DOWN ? DB_DOWN : DB_ERR;
			goto out;
		}
		if (db_affected_rows(db) == 1) {
			json_object_set_new(row, "transactionId", json_string(x->transaction_id));
			json_object_set_new(row, "payTime", json_integer(pay_time));
			log_json(LOG_INFO, "payment applied",
				 json_pack("{s:s,s:s}", "paymentSn", x->out_trade_no,
					   "transactionId", x->transaction_id));
			rc = payment_publish(bus, row) < 0 ? PAY_PUBLISH : PAY_APPLIED;
			goto out;
		}
	}
out:
	/* Money for an order already cancelled never revives it: it goes back in full, once. */
	if (rc == PAY_APPLIED || rc == PAY_ALREADY || rc == PAY_PUBLISH) {
		char rsn[REFUND_SN_MAX + 8];
		if (refund_late_record(db, x->out_trade_no, rsn, sizeof rsn) == DB_DOWN)
			rc = DB_DOWN;
	}
	json_decref(row);
	return rc;
}
