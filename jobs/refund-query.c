/* refund-query.c - flashsale-refund-query (cron, every minute): refunds that did not finish.
 *
 * 1. Late payments: paid payments of cancelled orders whose full refund is not recorded yet
 *    (whatever path applied them) get it, once (refund_late_record).
 * 2. PROCESSING refunds WeChat never accepted (requested = 0: the gateway was down, or the
 *    program died before asking) are sent again with the same out_refund_no, which WeChat
 *    treats idempotently: never two refunds for one request.
 * 3. PROCESSING refunds older than wxpay.refund_query_after seconds whose notification has not
 *    come are queried and applied (state-guarded); one WeChat does not know is sent again.
 * Overlapping runs are kept apart by a Redis lock; every change is guarded anyway.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "job.h"
#include "log.h"
#include "refund.h"

#define REFUND_BATCH 200

/* What one run did, printed at the end. */
struct rq_stats {
	int late, sent, queried, applied, errors;
};

/* Everything a run needs. */
struct rq_ctx {
	struct db *db;
	struct cache *cache;
	struct event_bus *bus;
	struct wxpay *wx;
	struct rq_stats st;
};

/* Pass 1: paid payments of cancelled orders without their late refund. */
static void rq_late(struct rq_ctx *t)
{
	json_t *rows = NULL, *row;
	size_t i;
	char sn[REFUND_SN_MAX + 8];

	if (db_query(t->db, &rows,
		     "SELECT p.sn FROM flashsale_payment.payment p JOIN flashsale_order.orders o "
		     "ON o.sn = p.order_sn WHERE p.pay_status = 1 AND o.trade_state = -1 "
		     "ORDER BY p.id LIMIT ?",
		     "i", (long long)REFUND_BATCH)) {
		t->st.errors++;
		return;
	}
	json_array_foreach(rows, i, row)
	{
		int rc = refund_late_record(t->db, json_string_value(json_object_get(row, "sn")),
					    sn, sizeof sn);
		if (rc == 1)
			t->st.late++;
		else if (rc < 0)
			t->st.errors++;
	}
	json_decref(rows);
}

/* Send refund sn (again); count it. */
static void rq_send(struct rq_ctx *t, const char *sn)
{
	char status[16];
	if (refund_submit(t->db, t->cache, t->bus, t->wx, sn, status, sizeof status) != 0) {
		t->st.errors++; /* still unsent: the next run tries again */
		return;
	}
	t->st.sent++;
	if (!strcmp(status, "PROCESSING"))
		log_json(LOG_INFO, "refund sent, still processing", json_pack("{s:s}", "sn", sn));
}

/* Query one refund WeChat accepted; apply what it says, send it again if WeChat lost it. */
static void rq_query(struct rq_ctx *t, const char *sn)
{
	char err[256];
	json_t *ans = NULL;
	struct wxpay_refund_info x;

	t->st.queried++;
	int rc = wxpay_refund_query(t->wx, sn, &ans, err, sizeof err);
	if (rc == WXPAY_NOT_FOUND) {
		db_exec(t->db,
			"UPDATE flashsale_payment.refund SET requested = 0 WHERE sn = ? "
			"AND status = 'PROCESSING'",
			"s", sn);
		rq_send(t, sn);
	} else if (rc != WXPAY_OK) {
		log_json(LOG_ERROR, "wxpay refund query failed",
			 json_pack("{s:s,s:s}", "sn", sn, "error", err));
		t->st.errors++;
	} else if (wxpay_refund_parse(ans, &x) < 0 || strcmp(x.out_refund_no, sn)) {
		log_json(LOG_ERROR, "wxpay refund query answer unusable",
			 json_pack("{s:s}", "sn", sn));
		t->st.errors++;
	} else {
		rc = refund_apply(t->db, t->cache, t->bus, &x);
		if (rc == RAPPLY_CHANGED)
			t->st.applied++;
		else if (rc != RAPPLY_ALREADY)
			t->st.errors++;
	}
	json_decref(ans);
}

/* Passes 2 and 3: PROCESSING refunds, in batches. */
static void rq_refunds(struct rq_ctx *t, long long now, long query_after)
{
	json_t *rows = NULL, *row;
	size_t i;
	long long last_id = 0;

	for (;;) {
		if (db_query(t->db, &rows,
			     "SELECT id, sn, requested FROM flashsale_payment.refund "
			     "WHERE status = 'PROCESSING' AND (requested = 0 OR update_time <= ?) "
			     "AND id > ? ORDER BY id LIMIT ?",
			     "iii", now - query_after, last_id, (long long)REFUND_BATCH)) {
			t->st.errors++;
			return;
		}
		json_array_foreach(rows, i, row)
		{
			const char *sn = json_string_value(json_object_get(row, "sn"));
			last_id = json_integer_value(json_object_get(row, "id"));
			if (json_integer_value(json_object_get(row, "requested")))
				rq_query(t, sn);
			else
				rq_send(t, sn);
		}
		size_t n = json_array_size(rows);
		json_decref(rows);
		if (n < REFUND_BATCH)
			return;
	}
}

/* Option of a run: --query-after SECONDS (default wxpay.refund_query_after). */
static long rq_query_after = -1;

/* --query-after, --wait (job_parse_query_wait). */
static int rq_parse(struct job *j, int argc, char **argv)
{
	return job_parse_query_wait(j, argc, argv, &rq_query_after);
}

/* One pass over late payments and unfinished refunds (under the job's lock). */
static int refund_query_run(struct job *j)
{
	struct rq_ctx t = {.db = j->db, .cache = j->cache, .bus = j->bus};
	char err[512];
	long query_after = rq_query_after < 0 ? j->cfg.wxpay_refund_after : rq_query_after;

	if (sodium_init() < 0) {
		fprintf(stderr, "flashsale-refund-query: cannot initialise libsodium\n");
		return 1;
	}
	t.wx = wxpay_new(&j->cfg, err, sizeof err);
	if (!t.wx) {
		fprintf(stderr, "flashsale-refund-query: start-up failed: %s\n", err);
		return 1;
	}
	rq_late(&t);
	rq_refunds(&t, (long long)time(NULL), query_after);
	printf("refund-query: %d late, %d sent, %d queried, %d applied, %d errors\n", t.st.late,
	       t.st.sent, t.st.queried, t.st.applied, t.st.errors);
	log_json(LOG_INFO, "refund-query pass",
		 json_pack("{s:i,s:i,s:i,s:i,s:i}", "late", t.st.late, "sent", t.st.sent, "queried",
			   t.st.queried, "applied", t.st.applied, "errors", t.st.errors));
	wxpay_free(t.wx);
	return t.st.errors ? 1 : 0;
}

static const struct job_entry refund_query_entry = {
    .name = "refund-query",
    .usage = "[--query-after SECONDS] [--wait SECONDS]",
    .needs = JOB_DB | JOB_CACHE | JOB_BUS | JOB_LOCK | JOB_RECORD,
    .lock_ms = 300000,
    .parse = rq_parse,
    .run = refund_query_run,
};

int main(int argc, char **argv)
{
	return job_main(&refund_query_entry, argc, argv);
}
