/* order-timeout.c - flashsale-order-timeout (cron, every minute): unpaid orders past their
 * deadline and payments whose notification never came.
 *
 * 1. Each waiting order past pay_deadline: every waiting payment attempt is queried at WeChat.
 *    A trade that was in fact paid is applied (payment row + payment.status) and the order is
 *    left for order-events to mark paid. Otherwise the trade is closed at WeChat first (a close
 *    refused with ORDERPAID means the payer just paid: query again and apply), and only when
 *    no attempt is paid or unknown is the order cancelled by orders_cancel (state-guarded, so
 *    its units return exactly once) and order.closed published. An attempt WeChat cannot
 *    settle keeps the order until order.close_grace past the deadline, then it is cancelled
 *    anyway; a payment that still comes is a late payment, refunded in full (refund.h).
 * 2. Waiting payments older than wxpay.query_after seconds are queried and applied when paid,
 *    marked failed when WeChat closed or failed them, and closed when their order was
 *    cancelled meanwhile.
 * Overlapping runs are kept apart by a Redis lock; every change is guarded anyway.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "orders.h"
#include "refund.h"
#include "wxpay.h"
#include "job.h"

#define TIMEOUT_BATCH 200

/* What one run did, printed at the end. */
struct timeout_stats {
	int expired, cancelled, paid, closed, errors;
};

/* Everything a run needs. */
struct timeout_ctx {
	const struct fs_config *cfg;
	struct db *db;
	struct cache *cache;
	struct event_bus *bus;
	struct wxpay *wx;
	struct timeout_stats st;
};

/* Outcome of settling one payment attempt with WeChat. */
enum attempt_rc { ATTEMPT_OPEN = 0, ATTEMPT_PAID = 1, ATTEMPT_UNSURE = -1 };

/* Apply a queried transaction; ATTEMPT_PAID if it is paid, OPEN if not, UNSURE on failure. */
static int timeout_apply(struct timeout_ctx *t, const char *sn, json_t *trade)
{
	struct wxpay_txn x;
	if (wxpay_txn_parse(trade, &x) < 0 || strcmp(x.out_trade_no, sn) ||
	    !wxpay_txn_ours(t->wx, &x)) {
		log_json(LOG_ERROR, "wxpay query answer unusable", json_pack("{s:s}", "sn", sn));
		return ATTEMPT_UNSURE;
	}
	int rc = payment_apply(t->db, t->bus, &x);
	if (rc == PAY_APPLIED || rc == PAY_ALREADY) {
		if (rc == PAY_APPLIED)
			t->st.paid++;
		/* Paid after its order was cancelled: its refund is recorded, send it now. */
		refund_submit_late(t->db, t->cache, t->bus, t->wx, sn);
		return ATTEMPT_PAID;
	}
	if (rc == PAY_IGNORED)
		return ATTEMPT_OPEN;
	log_json(LOG_ERROR, "payment not applied", json_pack("{s:s,s:i}", "sn", sn, "rc", rc));
	return ATTEMPT_UNSURE;
}

/* Query one attempt and, when close is set and it is not paid, close it at WeChat. */
static int timeout_settle(struct timeout_ctx *t, const char *sn, int close)
{
	char err[256];
	json_t *trade = NULL;
	int rc = wxpay_query(t->wx, sn, &trade, err, sizeof err);

	if (rc == WXPAY_NOT_FOUND) {
		/* The prepay never reached WeChat: nothing to close, nothing can be paid. */
		payment_mark_closed(t->db, sn, "NOT_FOUND");
		return ATTEMPT_OPEN;
	}
	if (rc != WXPAY_OK) {
		log_json(LOG_ERROR, "wxpay query failed",
			 json_pack("{s:s,s:s}", "sn", sn, "error", err));
		return ATTEMPT_UNSURE;
	}
	int a = timeout_apply(t, sn, trade);
	const char *state = json_string_value(json_object_get(trade, "trade_state"));
	int open = a == ATTEMPT_OPEN && state &&
		   (!strcmp(state, "NOTPAY") || !strcmp(state, "USERPAYING"));
	json_decref(trade);
	if (!close || !open)
		return a;

	rc = wxpay_close(t->wx, sn, err, sizeof err);
	if (rc == WXPAY_OK) {
		payment_mark_closed(t->db, sn, "CLOSED");
		t->st.closed++;
		return ATTEMPT_OPEN;
	}
	if (rc == WXPAY_PAID) {
		/* Paid between our query and the close: apply it. */
		trade = NULL;
		if (wxpay_query(t->wx, sn, &trade, err, sizeof err) != WXPAY_OK)
			return ATTEMPT_UNSURE;
		a = timeout_apply(t, sn, trade);
		json_decref(trade);
		return a == ATTEMPT_PAID ? ATTEMPT_PAID : ATTEMPT_UNSURE;
	}
	log_json(LOG_ERROR, "wxpay close failed", json_pack("{s:s,s:s}", "sn", sn, "error", err));
	return ATTEMPT_UNSURE;
}

/* Publish order.closed for an order this run cancelled (best effort: the cancel is committed). */
static void timeout_publish_closed(struct timeout_ctx *t, const char *order_sn)
{
	json_t *ev = json_pack("{s:s,s:s,s:I}", "orderSn", order_sn, "reason", "timeout",
			       "closeTime", (json_int_t)time(NULL));
	if (!t->bus || event_publish(t->bus, "order.closed", order_sn, ev) < 0)
		log_json(LOG_WARN, "order.closed not published",
			 json_pack("{s:s}", "sn", order_sn));
	json_decref(ev);
}

/*
 * One expired order: settle its attempts with WeChat, then cancel it if none is paid. When
 * WeChat cannot settle an attempt (query or close fails), the order is kept until
 * order.close_grace seconds past its deadline, then cancelled anyway so its stock is not held
 * forever: money that still arrives for it is refunded in full (a late payment).
 */
static void timeout_order(struct timeout_ctx *t, const char *order_sn, long long deadline,
			  long long now)
{
	json_t *rows = NULL, *row;
	size_t i;
	int paid = 0, unsure = 0;

	t->st.expired++;
	if (db_query(t->db, &rows,
		     "SELECT sn, pay_status AS payStatus FROM flashsale_payment.payment "
		     "WHERE order_sn = ? ORDER BY id",
		     "s", order_sn)) {
		t->st.errors++;
		return;
	}
	json_array_foreach(rows, i, row)
	{
		const char *sn = json_string_value(json_object_get(row, "sn"));
		long long status = json_integer_value(json_object_get(row, "payStatus"));
		if (status == 1 || status == 2) {
			paid = 1; /* recorded; order-events marks the order */
		} else if (status == 0) {
			int a = t->wx ? timeout_settle(t, sn, 1) : ATTEMPT_UNSURE;
			paid |= a == ATTEMPT_PAID;
			unsure |= a == ATTEMPT_UNSURE;
		}
	}
	json_decref(rows);
	if (paid) {
		log_json(LOG_INFO, "expired order was paid; not cancelled",
			 json_pack("{s:s}", "sn", order_sn));
		return;
	}
	if (unsure && now < deadline + t->cfg->order_close_grace) {
		t->st.errors++;
		log_json(LOG_WARN, "expired order kept until WeChat answers",
			 json_pack("{s:s}", "sn", order_sn));
		return;
	}
	if (unsure)
		log_json(LOG_WARN,
			 "expired order cancelled although WeChat did not settle its trade; "
			 "a late payment will be refunded",
			 json_pack("{s:s}", "sn", order_sn));
	int rc = orders_cancel(t->db, t->cache, order_sn, 0, "timeout");
	if (rc == DB_CHANGED) {
		t->st.cancelled++;
		timeout_publish_closed(t, order_sn);
	} else if (rc != DB_UNCHANGED && rc != DB_NOT_FOUND) {
		t->st.errors++;
	}
}

/* Pass 1: waiting orders past their deadline, in batches. */
static void timeout_orders(struct timeout_ctx *t, long long now)
{
	json_t *rows = NULL, *row;
	size_t i;
	long long last_id = 0;

	for (;;) {
		if (db_query(t->db, &rows,
			     "SELECT id, sn, pay_deadline FROM flashsale_order.orders WHERE "
			     "trade_state = 0 "
			     "AND pay_deadline <= ? AND id > ? ORDER BY id LIMIT ?",
			     "iii", now, last_id, (long long)TIMEOUT_BATCH)) {
			t->st.errors++;
			return;
		}
		json_array_foreach(rows, i, row)
		{
			last_id = json_integer_value(json_object_get(row, "id"));
			timeout_order(t, json_string_value(json_object_get(row, "sn")),
				      json_integer_value(json_object_get(row, "pay_deadline")),
				      now);
		}
		size_t n = json_array_size(rows);
		json_decref(rows);
		if (n < TIMEOUT_BATCH)
			return;
	}
}

/*
 * Pass 2: waiting payments older than query_after whose notification has not come. Those of
 * an order no longer waiting (cancelled by its user) are closed at WeChat too, so the payer
 * cannot pay a cancelled order.
 */
static void timeout_payments(struct timeout_ctx *t, long long now, long query_after)
{
	json_t *rows = NULL, *row;
	size_t i;
	long long last_id = 0;

	if (!t->wx)
		return;
	for (;;) {
		if (db_query(t->db, &rows,
			     "SELECT p.id, p.sn, COALESCE(o.trade_state, -1) AS orderState "
			     "FROM flashsale_payment.payment p LEFT JOIN flashsale_order.orders o "
			     "ON o.sn = p.order_sn WHERE p.pay_status = 0 AND p.create_time <= ? "
			     "AND p.id > ? ORDER BY p.id LIMIT ?",
			     "iii", now - query_after, last_id, (long long)TIMEOUT_BATCH)) {
			t->st.errors++;
			return;
		}
		json_array_foreach(rows, i, row)
		{
			last_id = json_integer_value(json_object_get(row, "id"));
			int close = json_integer_value(json_object_get(row, "orderState")) == -1;
			if (timeout_settle(t, json_string_value(json_object_get(row, "sn")),
					   close) == ATTEMPT_UNSURE)
				t->st.errors++;
		}
		size_t n = json_array_size(rows);
		json_decref(rows);
		if (n < TIMEOUT_BATCH)
			return;
	}
}

/* Options of a run: --query-after SECONDS (default wxpay.query_after), --wait SECONDS. */
static long timeout_query_after = -1;

/* --query-after, --wait (job_parse_query_wait). */
static int timeout_parse(struct job *j, int argc, char **argv)
{
	return job_parse_query_wait(j, argc, argv, &timeout_query_after);
}

/* One pass over expired orders and stale payments (under the job's lock). */
static int order_timeout_run(struct job *j)
{
	struct timeout_ctx t = {.cfg = &j->cfg, .db = j->db, .cache = j->cache, .bus = j->bus};
	char err[512];
	long query_after = timeout_query_after < 0 ? j->cfg.wxpay_query_after : timeout_query_after;

	if (sodium_init() < 0) {
		fprintf(stderr, "flashsale-order-timeout: cannot initialise libsodium\n");
		return 1;
	}
	t.wx = wxpay_new(&j->cfg, err, sizeof err);
	if (!t.wx)
		log_warn("WeChat Pay not configured (%s): orders with open payments are kept", err);
	long long now = (long long)time(NULL);
	timeout_orders(&t, now);
	timeout_payments(&t, now, query_after);
	printf("order-timeout: %d expired, %d cancelled, %d paid, %d closed, %d errors\n",
	       t.st.expired, t.st.cancelled, t.st.paid, t.st.closed, t.st.errors);
	log_json(LOG_INFO, "order-timeout pass",
		 json_pack("{s:i,s:i,s:i,s:i,s:i}", "expired", t.st.expired, "cancelled",
			   t.st.cancelled, "paid", t.st.paid, "closed", t.st.closed, "errors",
			   t.st.errors));
	wxpay_free(t.wx);
	return t.st.errors ? 1 : 0;
}

static const struct job_entry order_timeout_entry = {
    .name = "order-timeout",
    .usage = "[--query-after SECONDS] [--wait SECONDS]",
    .needs = JOB_DB | JOB_CACHE | JOB_BUS | JOB_LOCK | JOB_RECORD,
    .lock_ms = 300000,
    .parse = timeout_parse,
    .run = order_timeout_run,
};

int main(int argc, char **argv)
{
	return job_main(&order_timeout_entry, argc, argv);
}
