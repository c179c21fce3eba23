/* pay-reconcile.c - the admin view of the daily bill reconciliation, and its scrape-time gauge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "payment.h"
#include "wxpay-bill.h"

/* {"payments":{count,amount},"refunds":{count,amount}} from four numbers. */
static json_t *reconcile_side(json_t *row, const char *pc, const char *pa, const char *rc,
			      const char *ra)
{
	return json_pack("{s:{s:O,s:O},s:{s:O,s:O}}", "payments", "count", json_object_get(row, pc),
			 "amount", json_object_get(row, pa), "refunds", "count",
			 json_object_get(row, rc), "amount", json_object_get(row, ra));
}

/* The local side of a day not reconciled yet, counted now. DB_* rc. */
static int reconcile_local_now(struct app *app, long long start, json_t **out)
{
	json_t *row = NULL;
	int rc = db_query_row(
	    app->db, &row,
	    "SELECT (SELECT COUNT(*) FROM flashsale_payment.payment WHERE pay_status IN (1, 2) "
	    "AND pay_time >= ? AND pay_time < ?) AS pc, (SELECT COALESCE(SUM(pay_total), 0) FROM "
	    "flashsale_payment.payment WHERE pay_status IN (1, 2) AND pay_time >= ? AND pay_time "
	    "< ?) AS pa, (SELECT COUNT(*) FROM flashsale_payment.refund WHERE requested = 1 AND "
	    "create_time >= ? AND create_time < ?) AS rc, (SELECT COALESCE(SUM(amount), 0) FROM "
	    "flashsale_payment.refund WHERE requested = 1 AND create_time >= ? AND create_time < "
	    "?) AS ra",
	    "iiiiiiii", start, start + 86400, start, start + 86400, start, start + 86400, start,
	    start + 86400);
	if (rc)
		return rc;
	/* SUM comes back as a decimal string: make every number an integer. */
	const char *k[] = {"pc", "pa", "rc", "ra"};
	for (int i = 0; i < 4; i++) {
		json_t *v = json_object_get(row, k[i]);
		if (json_is_string(v))
			json_object_set_new(row, k[i],
					    json_integer(strtoll(json_string_value(v), NULL, 10)));
	}
	*out = reconcile_side(row, "pc", "pa", "rc", "ra");
	json_decref(row);
	return DB_OK;
}

/* One side of a difference: {"amount","state"}, or null when that side has no row. */
static json_t *reconcile_diff_side(json_t *d, const char *amount, const char *state)
{
	json_t *a = json_object_get(d, amount), *s = json_object_get(d, state);
	if (json_is_null(a) && json_is_null(s))
		return json_null();
	return json_pack("{s:O,s:O}", "amount", a, "state", s);
}

/* The differences of a day, as the API lists them. DB_* rc. */
static int reconcile_diffs(struct app *app, const char *date, json_t **out)
{
	json_t *rows = NULL, *d;
	size_t i;
	int rc = db_query(app->db, &rows,
			  "SELECT kind, out_trade_no AS t, out_refund_no AS r, local_amount AS la, "
			  "local_state AS ls, wx_amount AS wa, wx_state AS ws, resolution FROM "
			  "flashsale_payment.reconcile_diff WHERE bill_date = ? ORDER BY id LIMIT "
			  "1000",
			  "s", date);
	if (rc)
		return rc;
	*out = json_array();
	json_array_foreach(rows, i, d)
	{
		json_t *o =
		    json_pack("{s:O,s:O,s:o,s:o}", "kind", json_object_get(d, "kind"), "outTradeNo",
			      json_object_get(d, "t"), "local", reconcile_diff_side(d, "la", "ls"),
			      "wechat", reconcile_diff_side(d, "wa", "ws"));
		const char *r = json_string_value(json_object_get(d, "r"));
		if (r && *r)
			json_object_set_new(o, "outRefundNo", json_string(r));
		const char *res = json_string_value(json_object_get(d, "resolution"));
		if (res && *res)
			json_object_set_new(o, "resolution", json_string(res));
		json_array_append_new(*out, o);
	}
	json_decref(rows);
	return DB_OK;
}

int pay_reconcile(struct app *app, struct http_req *req)
{
	const char *date = NULL;
	char def[16];
	long long start;
	json_t *day = NULL, *local = NULL, *diffs = NULL;
	int rc;

	if ((rc = param_str(req, "date", 0, 0, 10, &date)))
		return rc;
	if (!date || !*date) {
		wxbill_yesterday(def);
		date = def;
	}
	if (wxbill_day(date, &start) < 0)
		return http_fail(req, E_PARAM, "date must be YYYY-MM-DD");
	rc = db_query_row(
	    app->db, &day,
	    "SELECT status, local_pay_count AS lpc, local_pay_amount AS lpa, "
	    "local_ref_count AS lrc, local_ref_amount AS lra, wx_pay_count AS wpc, "
	    "wx_pay_amount AS wpa, wx_ref_count AS wrc, wx_ref_amount AS wra, "
	    "update_time AS t FROM flashsale_payment.reconcile_day WHERE bill_date = ?",
	    "s", date);
	if (rc)
		return err_from_db(rc);
	if (!day) {
		if ((rc = reconcile_local_now(app, start, &local)))
			return err_from_db(rc);
		req->data = json_pack("{s:s,s:s,s:o,s:{s:{s:i,s:i},s:{s:i,s:i}},s:[],s:n}", "date",
				      date, "status", "pending", "local", local, "wechat",
				      "payments", "count", 0, "amount", 0, "refunds", "count", 0,
				      "amount", 0, "diffs", "reconcileTime");
		return req->data ? 0 : E_SERVER;
	}
	if ((rc = reconcile_diffs(app, date, &diffs))) {
		json_decref(day);
		return err_from_db(rc);
	}
	req->data = json_pack("{s:s,s:O,s:o,s:o,s:o,s:O}", "date", date, "status",
			      json_object_get(day, "status"), "local",
			      reconcile_side(day, "lpc", "lpa", "lrc", "lra"), "wechat",
			      reconcile_side(day, "wpc", "wpa", "wrc", "wra"), "diffs", diffs,
			      "reconcileTime", json_object_get(day, "t"));
	json_decref(day);
	return req->data ? 0 : E_SERVER;
}

int pay_reconcile_days(struct app *app, struct http_req *req)
{
	long long limit = 30;
	json_t *rows = NULL;
	int rc;

	if ((rc = param_int(req, "limit", 0, 1, 366, &limit)))
		return rc;
	rc = db_query(app->db, &rows,
		      "SELECT DATE_FORMAT(bill_date, '%Y-%m-%d') AS date, status, "
		      "diff_count AS differences, wx_pay_count AS payments, wx_ref_count AS "
		      "refunds, update_time AS reconcileTime FROM flashsale_payment.reconcile_day "
		      "ORDER BY bill_date DESC LIMIT ?",
		      "i", limit);
	if (rc)
		return err_from_db(rc);
	req->data = json_pack("{s:o}", "list", rows);
	return req->data ? 0 : E_SERVER;
}

/* The kinds of difference, in the order of the gauge's slots. */
static const char *const reconcile_kinds[] = {"only_wechat", "only_local", "amount", "state"};
static int reconcile_slots[4] = {-1, -1, -1, -1};

int pay_reconcile_metrics(struct app *app)
{
	json_t *rows = NULL, *r;
	size_t i;
	char labels[64];

	for (int k = 0; k < 4; k++)
		if (reconcile_slots[k] < 0) {
			snprintf(labels, sizeof labels, "kind=\"%s\"", reconcile_kinds[k]);
			reconcile_slots[k] = metrics_define(
			    "flashsale_reconcile_differences", labels,
			    "Differences found by the bill reconciliation run last, by kind.", 1);
		}
	/* The day reconciled last (the latest run): the state an operator acts on. */
	if (db_query(app->db, &rows,
		     "SELECT d.kind, COUNT(*) AS n FROM flashsale_payment.reconcile_diff d JOIN "
		     "(SELECT bill_date FROM flashsale_payment.reconcile_day ORDER BY run_seq DESC "
		     "LIMIT 1) l ON l.bill_date = d.bill_date GROUP BY d.kind",
		     ""))
		return -1;
	long long n[4] = {0};
	json_array_foreach(rows, i, r)
	{
		const char *kind = json_string_value(json_object_get(r, "kind"));
		for (int k = 0; k < 4; k++)
			if (kind && !strcmp(kind, reconcile_kinds[k]))
				n[k] = json_integer_value(json_object_get(r, "n"));
	}
	json_decref(rows);
	for (int k = 0; k < 4; k++)
		metrics_set(reconcile_slots[k], n[k]);
	return 0;
}
