/* refund.c - refunds: record, ask WeChat, apply what it reports exactly once (refund.h). */
#include "refund.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ids.h"
#include "log.h"
#include "stock.h"

/* A failed db_rc as the refund functions report it: DB_DOWN, or DB_ERR for any other. */
static int refund_db_rc(int rc)
{
	return rc == DB_DOWN ? DB_DOWN : DB_ERR;
}

/* An integer column of a row (0 if absent). */
static long long col_int(json_t *row, const char *name)
{
	return (long long)json_integer_value(json_object_get(row, name));
}

/* A string column of a row ("" if absent). */
static const char *col_str(json_t *row, const char *name)
{
	const char *s = json_string_value(json_object_get(row, name));
	return s ? s : "";
}

/* In the open transaction (the order row locked, so creations are serialised): refunds of
 * payment psn that still hold money (fen). -1 on error. */
static long long refund_taken(struct db *db, const char *psn, int *rc)
{
	json_t *row = NULL;
	*rc = db_query_row(db, &row,
			   "SELECT CAST(COALESCE(SUM(amount), 0) AS SIGNED) AS taken "
			   "FROM flashsale_payment.refund WHERE payment_sn = ? "
			   "AND status IN ('PROCESSING', 'SUCCESS', 'ABNORMAL')",
			   "s", psn);
	long long taken = *rc ? -1 : col_int(row, "taken");
	json_decref(row);
	return taken;
}

/* The checks and the insert of refund_create, inside its transaction. */
static int refund_create_tx(struct db *db, const struct refund_ask *a, char *sn, size_t snlen)
{
	json_t *o = NULL, *p = NULL, *e = NULL;
	long long now = (long long)time(NULL);
	int rc = db_query_row(db, &o,
			      "SELECT user_id, trade_state, pay_time FROM flashsale_order.orders "
			      "WHERE sn = ? AND (? = 0 OR user_id = ?) FOR UPDATE",
			      "sii", a->order_sn, a->user_id, a->user_id);
	if (rc || !o) {
		rc = rc ? refund_db_rc(rc) : REFUND_NOT_FOUND;
		goto out;
	}
	long long state = col_int(o, "trade_state");
	if (state != 1 && state != 2) {
		rc = state == 3 ? REFUND_NOT_ALLOWED : REFUND_NOT_PAID;
		goto out;
	}
	if (a->window > 0 && now > col_int(o, "pay_time") + a->window) {
		rc = REFUND_NOT_ALLOWED;
		goto out;
	}
	rc = db_query_row(db, &p,
			  "SELECT sn, pay_total FROM flashsale_payment.payment WHERE order_sn = ? "
			  "AND pay_status IN (1, 2) ORDER BY id LIMIT 1",
			  "s", a->order_sn);
	if (rc || !p) {
		rc = rc ? refund_db_rc(rc) : REFUND_NOT_PAID;
		goto out;
	}
	if (!strcmp(a->source, "user")) {
		/* A second click while the first is under way gets the first. */
		rc = db_query_row(
		    db, &e,
		    "SELECT sn FROM flashsale_payment.refund WHERE order_sn = ? "
		    "AND source = 'user' AND status = 'PROCESSING' ORDER BY id LIMIT 1",
		    "s", a->order_sn);
		if (rc || e) {
			rc = rc ? refund_db_rc(rc) : REFUND_EXISTING;
			if (e)
				snprintf(sn, snlen, "%s", col_str(e, "sn"));
			goto out;
		}
	}
	const char *psn = col_str(p, "sn");
	long long total = col_int(p, "pay_total");
	long long taken = refund_taken(db, psn, &rc);
	if (rc) {
		rc = refund_db_rc(rc);
		goto out;
	}
	long long left = total - taken, amount = a->amount > 0 ? a->amount : left;
	if (left <= 0 || amount > left) {
		rc = REFUND_NOT_ALLOWED;
		goto out;
	}
	if (id_sn_new(sn, snlen, "RFD") < 0) {
		rc = DB_ERR;
		goto out;
	}
	rc = db_exec(db,
		     "INSERT INTO flashsale_payment.refund (sn, payment_sn, order_sn, user_id, "
		     "amount, total, reason, source, status, requested, create_time, update_time) "
		     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'PROCESSING', 0, ?, ?)",
		     "sssiiissii", sn, psn, a->order_sn, col_int(o, "user_id"), amount, total,
		     a->reason ? a->reason : "", a->source, now, now);
	rc = rc ? refund_db_rc(rc) : REFUND_CREATED;
out:
	json_decref(o);
	json_decref(p);
	json_decref(e);
	return rc;
}

int refund_create(struct db *db, const struct refund_ask *a, char *sn, size_t snlen)
{
	int rc = db_begin(db);
	if (rc)
		return refund_db_rc(rc);
	rc = refund_create_tx(db, a, sn, snlen);
	if (rc != REFUND_CREATED) {
		db_rollback(db);
		return rc;
	}
	if ((rc = db_commit(db)))
		return refund_db_rc(rc);
	log_json(LOG_INFO, "refund recorded",
		 json_pack("{s:s,s:s,s:s}", "refundSn", sn, "orderSn", a->order_sn, "source",
			   a->source));
	return REFUND_CREATED;
}

int refund_late_record(struct db *db, const char *payment_sn, char *sn, size_t snlen)
{
	json_t *row = NULL;
	int rc = db_query_row(db, &row,
			      "SELECT p.order_sn, p.user_id, p.pay_total, p.pay_status, "
			      "o.trade_state FROM flashsale_payment.payment p "
			      "JOIN flashsale_order.orders o ON o.sn = p.order_sn WHERE p.sn = ?",
			      "s", payment_sn);
	if (rc)
		return rc;
	if (!row || (col_int(row, "pay_status") != 1 && col_int(row, "pay_status") != 2) ||
	    col_int(row, "trade_state") != -1 || strlen(payment_sn) < 4) {
		json_decref(row);
		return 0;
	}
	/* RFD + the payment sn without its PMT: one late refund per payment, however often. */
	snprintf(sn, snlen, "RFD%s", payment_sn + 3);
	long long now = (long long)time(NULL);
	rc = db_exec(db,
		     "INSERT INTO flashsale_payment.refund (sn, payment_sn, order_sn, user_id, "
		     "amount, total, reason, source, status, requested, create_time, update_time) "
		     "VALUES (?, ?, ?, ?, ?, ?, 'order already cancelled when paid', "
		     "'late_payment', 'PROCESSING', 0, ?, ?)",
		     "sssiiiii", sn, payment_sn, col_str(row, "order_sn"), col_int(row, "user_id"),
		     col_int(row, "pay_total"), col_int(row, "pay_total"), now, now);
	if (rc == DB_OK)
		log_json(LOG_WARN, "late payment: order already cancelled, refunding in full",
			 json_pack("{s:s,s:s,s:s,s:I}", "paymentSn", payment_sn, "orderSn",
				   col_str(row, "order_sn"), "refundSn", sn, "amount",
				   (json_int_t)col_int(row, "pay_total")));
	json_decref(row);
	return rc == DB_OK ? 1 : rc == DB_DUP ? 0 : rc;
}

/* In the open transaction: a SUCCESS refund's effect on its payment and order. 1 if the order
 * became refunded in full, 0 if not, or a db_rc. *units gets the normal order's units back. */
static int refund_success_tx(struct db *db, json_t *r, json_t *o, long long *units,
			     long long *product_id)
{
	const char *psn = col_str(r, "payment_sn"), *osn = col_str(r, "order_sn");
	long long amount = col_int(r, "amount");
	int rc = db_exec(db,
			 "UPDATE flashsale_order.orders SET refunded = refunded + ?, "
			 "version = version + 1, update_time = UNIX_TIMESTAMP() WHERE sn = ?",
			 "is", amount, osn);
	if (rc)
		return rc;
	json_t *sum = NULL;
	rc = db_query_row(
	    db, &sum,
	    "SELECT CAST(COALESCE(SUM(amount), 0) AS SIGNED) AS done "
	    "FROM flashsale_payment.refund WHERE payment_sn = ? AND status = 'SUCCESS'",
	    "s", psn);
	if (rc)
		return rc;
	long long done = col_int(sum, "done");
	json_decref(sum);
	if (done >= col_int(r, "total") &&
	    (rc = db_exec(db,
			  "UPDATE flashsale_payment.payment SET pay_status = 2, trade_state = "
			  "'REFUND', version = version + 1, update_time = UNIX_TIMESTAMP() "
			  "WHERE sn = ? AND pay_status = 1",
			  "s", psn)))
		return rc;
	if (!o || col_int(o, "refunded") + amount < col_int(o, "pay_total"))
		return 0;
	rc = db_exec(db,
		     "UPDATE flashsale_order.orders SET trade_state = 3, version = version + 1, "
		     "update_time = UNIX_TIMESTAMP() WHERE id = ? AND trade_state IN (1, 2)",
		     "i", col_int(o, "id"));
	if (rc || db_affected_rows(db) != 1)
		return rc;
	/* Only the update that made it refunded gets here: the units return exactly once. A
	 * seckill order's units stay sold (the activity's count and the buyer's quota too). */
	if (col_int(o, "order_type") == 0) {
		*units = col_int(o, "quantity");
		*product_id = col_int(o, "product_id");
		if ((rc = stock_product_return(db, *product_id, *units)))
			return rc;
	}
	return 1;
}

/* Publish order.refunded for an order refunded in full (best effort: it is committed). */
static void refund_publish(struct event_bus *bus, json_t *r, json_t *o)
{
	const char *osn = col_str(r, "order_sn");
	json_t *ev = json_pack(
	    "{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:I}", "orderSn", osn, "refundSn",
	    col_str(r, "sn"), "userId", (json_int_t)col_int(o, "user_id"), "amount",
	    (json_int_t)col_int(r, "amount"), "refunded",
	    (json_int_t)(col_int(o, "refunded") + col_int(r, "amount")), "payTotal",
	    (json_int_t)col_int(o, "pay_total"), "productId", (json_int_t)col_int(o, "product_id"),
	    "quantity", (json_int_t)col_int(o, "quantity"), "orderType",
	    col_int(o, "order_type") == 1 ? "seckill" : "normal", "refundTime",
	    (json_int_t)time(NULL));
	if (!bus || !ev || event_publish(bus, "order.refunded", osn, ev) < 0)
		log_json(LOG_ERROR, "order.refunded not published", json_pack("{s:s}", "sn", osn));
	json_decref(ev);
}

/* Record refund_id and requested = 1 on a refund WeChat accepted but has not finished. */
static int refund_mark_requested(struct db *db, const struct wxpay_refund_info *x)
{
	int rc = db_exec(db,
			 "UPDATE flashsale_payment.refund SET requested = 1, "
			 "refund_id = IF(? = '', refund_id, ?), update_time = UNIX_TIMESTAMP() "
			 "WHERE sn = ? AND status = 'PROCESSING' AND requested = 0",
			 "sss", x->refund_id, x->refund_id, x->out_refund_no);
	return rc ? refund_db_rc(rc) : RAPPLY_ALREADY;
}

int refund_apply(struct db *db, struct cache *c, struct event_bus *bus,
		 const struct wxpay_refund_info *x)
{
	json_t *r = NULL, *o = NULL;
	long long units = 0, product_id = 0;
	int full = 0;
	int rc = db_query_row(db, &r,
			      "SELECT sn, payment_sn, order_sn, amount, total, status "
			      "FROM flashsale_payment.refund WHERE sn = ?",
			      "s", x->out_refund_no);
	if (rc || !r) {
		rc = rc ? refund_db_rc(rc) : RAPPLY_NOT_FOUND;
		goto out;
	}
	if (x->refund != col_int(r, "amount") ||
	    (x->out_trade_no[0] && strcmp(x->out_trade_no, col_str(r, "payment_sn")))) {
		rc = RAPPLY_MISMATCH;
		goto out;
	}
	if (strcmp(col_str(r, "status"), "PROCESSING")) {
		rc = RAPPLY_ALREADY;
		goto out;
	}
	if (!strcmp(x->status, "PROCESSING")) {
		rc = refund_mark_requested(db, x);
		goto out;
	}
	/* Lock order first, then the refund: the order the creation takes them in. */
	if ((rc = db_begin(db)))
		goto dbfail;
	rc = db_query_row(db, &o,
			  "SELECT id, user_id, product_id, order_type, quantity, trade_state, "
			  "pay_total, refunded FROM flashsale_order.orders WHERE sn = ? FOR UPDATE",
			  "s", col_str(r, "order_sn"));
	if (rc)
		goto rollback;
	rc = db_exec(db,
		     "UPDATE flashsale_payment.refund SET status = ?, requested = 1, "
		     "refund_id = IF(? = '', refund_id, ?), success_time = ?, "
		     "update_time = UNIX_TIMESTAMP() WHERE sn = ? AND status = 'PROCESSING'",
		     "sssis", x->status, x->refund_id, x->refund_id,
		     !strcmp(x->status, "SUCCESS")
			 ? (x->success_time > 0 ? x->success_time : (long long)time(NULL))
			 : 0LL,
		     x->out_refund_no);
	if (rc)
		goto rollback;
	if (db_affected_rows(db) != 1) {
		db_rollback(db);
		rc = RAPPLY_ALREADY;
		goto out;
	}
	if (!strcmp(x->status, "SUCCESS")) {
		full = refund_success_tx(db, r, o, &units, &product_id);
		if (full < 0) {
			rc = full;
			goto rollback;
		}
	}
	if ((rc = db_commit(db)))
		goto dbfail;
	if (units && c)
		stock_product_uncache(c, product_id);
	if (full)
		refund_publish(bus, r, o);
	log_json(LOG_INFO, "refund applied",
		 json_pack("{s:s,s:s,s:s,s:I,s:b}", "refundSn", x->out_refund_no, "orderSn",
			   col_str(r, "order_sn"), "status", x->status, "amount",
			   (json_int_t)col_int(r, "amount"), "full", full));
	rc = RAPPLY_CHANGED;
	goto out;
rollback:
	db_rollback(db);
dbfail:
	rc = refund_db_rc(rc);
out:
	json_decref(r);
	json_decref(o);
	return rc;
}

/* WeChat refused the request outright for a reason that can pass (retry later)? */
static int refund_retryable(const char *code)
{
	return !strcmp(code, "SYSTEM_ERROR") || !strcmp(code, "FREQUENCY_LIMITED") ||
	       !strcmp(code, "NOT_ENOUGH") || !*code;
}

int refund_submit(struct db *db, struct cache *c, struct event_bus *bus, struct wxpay *w,
		  const char *sn, char *status, size_t statuslen)
{
	json_t *r = NULL, *ans = NULL;
	char code[64], err[256];
	struct wxpay_refund_info x;
	int unsent = 0;
	int rc = db_query_row(db, &r,
			      "SELECT sn, payment_sn, amount, total, reason, status, requested "
			      "FROM flashsale_payment.refund WHERE sn = ?",
			      "s", sn);
	if (rc || !r) {
		rc = rc ? rc : -1;
		goto out;
	}
	snprintf(status, statuslen, "%s", col_str(r, "status"));
	/* Finished, or accepted by WeChat already (refund-query follows it up): nothing to send. */
	if (strcmp(col_str(r, "status"), "PROCESSING") || col_int(r, "requested") || !w)
		goto out;
	struct wxpay_refund_req q = {.out_trade_no = col_str(r, "payment_sn"),
				     .out_refund_no = sn,
				     .reason = col_str(r, "reason"),
				     .refund = col_int(r, "amount"),
				     .total = col_int(r, "total")};
	int wrc = wxpay_refund(w, &q, &ans, code, sizeof code, err, sizeof err);
	db_exec(db,
		"UPDATE flashsale_payment.refund SET attempts = attempts + 1, "
		"update_time = UNIX_TIMESTAMP() WHERE sn = ?",
		"s", sn);
	if (wrc == WXPAY_OK) {
		if (wxpay_refund_parse(ans, &x) < 0 || strcmp(x.out_refund_no, sn)) {
			/* Accepted, but the answer is unusable: refund-query asks again. */
			log_json(LOG_ERROR, "wxpay refund answer unusable",
				 json_pack("{s:s}", "sn", sn));
			memset(&x, 0, sizeof x);
			snprintf(x.out_refund_no, sizeof x.out_refund_no, "%s", sn);
			snprintf(x.status, sizeof x.status, "PROCESSING");
			x.refund = q.refund;
		}
		refund_apply(db, c, bus, &x);
	} else if (wrc == WXPAY_REJECTED && !refund_retryable(code)) {
		log_json(LOG_ERROR, "wxpay refused the refund; closed",
			 json_pack("{s:s,s:s,s:s}", "sn", sn, "code", code, "error", err));
		memset(&x, 0, sizeof x);
		snprintf(x.out_refund_no, sizeof x.out_refund_no, "%s", sn);
		snprintf(x.status, sizeof x.status, "CLOSED");
		x.refund = q.refund;
		refund_apply(db, c, bus, &x);
	} else {
		log_json(LOG_WARN, "wxpay refund request failed; refund-query retries it",
			 json_pack("{s:s,s:s,s:i}", "sn", sn, "error", err, "rc", wrc));
		unsent = 1;
	}
	json_decref(r);
	r = NULL;
	if (db_query_row(db, &r, "SELECT status FROM flashsale_payment.refund WHERE sn = ?", "s",
			 sn) == DB_OK &&
	    r)
		snprintf(status, statuslen, "%s", col_str(r, "status"));
	rc = unsent;
out:
	json_decref(ans);
	json_decref(r);
	return rc;
}

int refund_submit_late(struct db *db, struct cache *c, struct event_bus *bus, struct wxpay *w,
		       const char *payment_sn)
{
	char sn[REFUND_SN_MAX + 8], status[16];
	if (!payment_sn || strlen(payment_sn) < 4 || strlen(payment_sn) > REFUND_SN_MAX)
		return -1;
	snprintf(sn, sizeof sn, "RFD%s", payment_sn + 3);
	return refund_submit(db, c, bus, w, sn, status, sizeof status);
}
