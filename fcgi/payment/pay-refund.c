/* pay-refund.c - REFUND.* notifications applied to the refund row, and the refund metrics. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "payment.h"
#include "refund.h"

/* Refunds PROCESSING longer than this count as stuck (flashsale_refunds_stuck). */
#define PAY_REFUND_STUCK_S 600

int pay_on_refund(struct app *app, json_t *res, const char **why)
{
	struct payment_app *pa = app->domain;
	struct wxpay_refund_info x;

	if (wxpay_refund_parse(res, &x) < 0 || !strcmp(x.status, "PROCESSING")) {
		*why = "refund lacks required fields";
		return 400;
	}
	if (!wxpay_mchid_ours(pa->wx, x.mchid)) {
		*why = "mchid is not ours";
		return 400;
	}
	switch (refund_apply(app->db, app->cache, pa->bus, &x)) {
	case RAPPLY_CHANGED:
	case RAPPLY_ALREADY: return 204;
	case RAPPLY_NOT_FOUND: *why = "unknown out_refund_no"; return 404;
	case RAPPLY_MISMATCH: *why = "amount or trade does not match the refund"; return 400;
	case DB_DOWN: *why = "database unavailable"; return 503;
	default: *why = "server error"; return 500;
	}
}

/* Slots of the refund metrics, defined once per worker. */
static int m_success = -1, m_closed = -1, m_abnormal = -1, m_late = -1, m_stuck = -1, m_defined;

/*
 * At scrape time, from the refund table (so refunds applied by any program or job count):
 * refunds by final result and late payments (counters: rows only ever leave PROCESSING,
 * once) and refunds PROCESSING for more than 10 minutes (gauge).
 */
int pay_metrics_refresh(struct app *app)
{
	json_t *row = NULL;
	if (!m_defined) {
		const char *h = "Refunds by the result WeChat reported.";
		m_success = metrics_define("flashsale_refunds_total", "result=\"SUCCESS\"", h, 0);
		m_closed = metrics_define("flashsale_refunds_total", "result=\"CLOSED\"", h, 0);
		m_abnormal = metrics_define("flashsale_refunds_total", "result=\"ABNORMAL\"", h, 0);
		m_late =
		    metrics_define("flashsale_late_payments_total", NULL,
				   "Payments for orders already cancelled (refunded in full).", 0);
		m_stuck = metrics_define("flashsale_refunds_stuck", NULL,
					 "Refunds PROCESSING for more than 10 minutes.", 1);
		m_defined = 1;
	}
	int rc = db_query_row(
	    app->db, &row,
	    "SELECT CAST(COALESCE(SUM(status = 'SUCCESS'), 0) AS SIGNED) AS s, "
	    "CAST(COALESCE(SUM(status = 'CLOSED'), 0) AS SIGNED) AS c, "
	    "CAST(COALESCE(SUM(status = 'ABNORMAL'), 0) AS SIGNED) AS a, "
	    "CAST(COALESCE(SUM(source = 'late_payment'), 0) AS SIGNED) AS l, "
	    "CAST(COALESCE(SUM(status = 'PROCESSING' AND create_time < ?), 0) AS SIGNED) AS p "
	    "FROM flashsale_payment.refund",
	    "i", (long long)time(NULL) - PAY_REFUND_STUCK_S);
	if (rc || !row)
		return -1;
	metrics_set(m_success, json_integer_value(json_object_get(row, "s")));
	metrics_set(m_closed, json_integer_value(json_object_get(row, "c")));
	metrics_set(m_abnormal, json_integer_value(json_object_get(row, "a")));
	metrics_set(m_late, json_integer_value(json_object_get(row, "l")));
	metrics_set(m_stuck, json_integer_value(json_object_get(row, "p")));
	json_decref(row);
	return 0;
}
