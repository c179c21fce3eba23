/*
 * bill-reconcile.c - flashsale-bill-reconcile (cron, daily): reconcile WeChat Pay's trade bill of
 * one Asia/Shanghai day with the local payments and refunds (对账).
 *
 * 1. GET /v3/bill/tradebill?bill_date=D&bill_type=ALL, the signed download of download_url,
 *    its SHA1 checked against hash_value (a mismatch fails the run and records nothing).
 *    NO_STATEMENT_EXIST (a day without trades) is an empty bill.
 * 2. The bill's payment rows against the payments paid that day (pay_status 1/2, pay_time in
 *    D), its refund rows against the refunds WeChat accepted that day (requested = 1,
 *    create_time in D), by out_trade_no / out_refund_no. Differences: only_wechat, only_local,
 *    amount, state.
 * 3. A payment only WeChat knows is queried at WeChat and applied by payment_apply (the path
 *    of the callback and order-timeout), so a lost notification is repaired here too.
 * 4. The day's result replaces any earlier one (reconcile_day, reconcile_diff) in one
 *    transaction, so re-running a day is idempotent.
 *
 * usage: flashsale-bill-reconcile [-c CONFIG] [--date YYYY-MM-DD]  (default: yesterday)
 * Exit 0 reconciled, 3 differences found, 1 failure (WeChat, hash, database), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "log.h"
#include "wxpay-bill.h"

/* One run's state. */
struct recon {
	struct job *j;
	struct wxpay *wx;
	char date[16];
	long long start;            /* first second of the day, Unix */
	json_t *wx_pay, *wx_ref;    /* bill rows by out_trade_no / out_refund_no */
	json_t *diffs;              /* array of differences */
	char sha1[WXBILL_HASH_MAX]; /* the bill's hash_value; empty when WeChat has no bill */
	long long wx_pay_count, wx_pay_amount, wx_ref_count, wx_ref_amount;
	long long lc_pay_count, lc_pay_amount, lc_ref_count, lc_ref_amount;
	int oom; /* a row or difference could not be built: the run fails rather than drop it */
};

/* Collect one bill row (wxbill_parse callback). */
static int recon_bill_row(const struct wxbill_row *r, void *ud)
{
	struct recon *x = ud;
	int rc;
	if (r->refund) {
		rc = json_object_set_new(x->wx_ref, r->out_refund_no,
					 json_pack("{s:I,s:s,s:s}", "amount", (json_int_t)r->amount,
						   "state",
						   r->refund_state[0] ? r->refund_state : "SUCCESS",
						   "trade", r->out_trade_no));
		x->wx_ref_count++;
		x->wx_ref_amount += r->amount;
	} else {
		rc = json_object_set_new(x->wx_pay, r->out_trade_no,
					 json_pack("{s:I,s:s,s:s}", "amount", (json_int_t)r->amount,
						   "state", r->trade_state, "trade",
						   r->out_trade_no));
		x->wx_pay_count++;
		x->wx_pay_amount += r->amount;
	}
	if (rc < 0)
		x->oom = 1;
	return rc < 0 ? -1 : 0;
}

/* Fetch, check and parse the day's bill. 0, or -1 (logged). */
static int recon_fetch(struct recon *x)
{
	char url[WXBILL_URL_MAX], hash[WXBILL_HASH_MAX], err[256];
	struct wxbill_summary sum;
	char *body = NULL;
	size_t len = 0;

	int rc =
	    wxpay_tradebill(x->wx, x->date, url, sizeof url, hash, sizeof hash, err, sizeof err);
	if (rc == WXPAY_NOT_FOUND) {
		log_info("no bill for %s at WeChat (no trades)", x->date);
		return 0;
	}
	if (rc != WXPAY_OK) {
		log_error("tradebill %s: %s", x->date, err);
		fprintf(stderr, "flashsale-bill-reconcile: %s\n", err);
		return -1;
	}
	if (wxpay_bill_download(x->wx, url, hash, (size_t)x->j->cfg.wxpay_bill_max_bytes, &body,
				&len, err, sizeof err) != WXPAY_OK) {
		log_error("bill %s download: %s", x->date, err);
		fprintf(stderr, "flashsale-bill-reconcile: %s\n", err);
		return -1;
	}
	snprintf(x->sha1, sizeof x->sha1, "%s", hash);
	rc = wxbill_parse(body, len, recon_bill_row, x, &sum, err, sizeof err);
	free(body);
	if (rc < 0) {
		log_error("bill %s: %s", x->date, err);
		fprintf(stderr, "flashsale-bill-reconcile: %s\n", err);
	}
	return rc;
}

/* Record a difference; amounts < 0 and NULL states mean "that side has no row". */
static void recon_diff(struct recon *x, const char *kind, const char *trade, const char *refund,
		       long long lamount, const char *lstate, long long wamount, const char *wstate,
		       const char *resolution)
{
	if (json_array_append_new(
		x->diffs,
		json_pack("{s:s,s:s,s:s,s:I,s:s?,s:I,s:s?,s:s}", "kind", kind, "trade",
			  trade ? trade : "", "refund", refund ? refund : "", "lamount",
			  (json_int_t)lamount, "lstate", lstate, "wamount", (json_int_t)wamount,
			  "wstate", wstate, "resolution", resolution ? resolution : "")) < 0)
		x->oom = 1;
}

/* A payment only WeChat knows: query it and apply it as the callback would. Its resolution. */
static const char *recon_apply(struct recon *x, const char *sn)
{
	char err[256];
	json_t *trade = NULL;
	struct wxpay_txn t;
	const char *res = "failed";

	int rc = wxpay_query(x->wx, sn, &trade, err, sizeof err);
	if (rc == WXPAY_NOT_FOUND)
		return "not_at_wechat";
	if (rc != WXPAY_OK) {
		log_error("query %s: %s", sn, err);
		return "query_failed";
	}
	if (wxpay_txn_parse(trade, &t) < 0 || strcmp(t.out_trade_no, sn) ||
	    !wxpay_txn_ours(x->wx, &t)) {
		log_error("query %s: unusable answer", sn);
		goto out;
	}
	switch (payment_apply(x->j->db, x->j->bus, &t)) {
	case PAY_APPLIED: res = "applied"; break;
	case PAY_ALREADY: res = "already_paid"; break;
	case PAY_NOT_FOUND: res = "not_found"; break;
	case PAY_MISMATCH: res = "amount_mismatch"; break;
	case PAY_IGNORED: res = "not_paid"; break;
	default: res = "failed";
	}
	log_json(LOG_WARN, "reconcile: payment only at WeChat",
		 json_pack("{s:s,s:s,s:s}", "paymentSn", sn, "date", x->date, "resolution", res));
out:
	json_decref(trade);
	return res;
}

/* The day's local rows by sn (a new object; NULL out of memory), counted and summed. */
static json_t *recon_index(json_t *rows, long long *count, long long *amount)
{
	json_t *local = json_object(), *row;
	size_t i;
	if (!local)
		return NULL;
	json_array_foreach(rows, i, row)
	{
		json_object_set(local, json_string_value(json_object_get(row, "sn")), row);
		(*count)++;
		*amount += json_integer_value(json_object_get(row, "amount"));
	}
	return local;
}

/* Our name of a payment's local state. */
static const char *recon_pay_state(json_t *row)
{
	long long pay_status = json_integer_value(json_object_get(row, "st"));
	return pay_status == 1   ? "SUCCESS"
	       : pay_status == 2 ? "REFUND"
	       : pay_status == 0 ? "NOTPAY"
				 : "CLOSED";
}

/* A refund's local state: its status as stored (WeChat's words already). */
static const char *recon_ref_state(json_t *row)
{
	return json_string_value(json_object_get(row, "st"));
}

/* Does a paid payment's bill state disagree? (SUCCESS, or REFUND once refunded, agree.) */
static int recon_pay_differs(const char *local, const char *wechat)
{
	(void)local;
	return strcmp(wechat, "SUCCESS") && strcmp(wechat, "REFUND");
}

/* Does a refund's bill state disagree with ours? */
static int recon_ref_differs(const char *local, const char *wechat)
{
	return strcmp(local, wechat);
}

/* A payment only in the bill: a paid one is repaired (recon_apply). Its resolution. */
static const char *recon_pay_repair(struct recon *x, const char *sn, const char *wstate)
{
	return strcmp(wstate, "SUCCESS") ? "" : recon_apply(x, sn);
}

/* One kind of bill row compared with the local rows of the day: payments or refunds. */
struct recon_kind {
	const char *day_sql; /* the day's rows: sn, trade, amount, st; ? ? the day's bounds */
	const char *one_sql; /* one row by sn (any day): amount, st */
	int refunds;         /* sn is an out_refund_no (else an out_trade_no) */
	const char *(*state)(json_t *row);                     /* a local row's state */
	int (*differs)(const char *local, const char *wechat); /* states of one amount disagree */
	const char *(*repair)(struct recon *x, const char *sn, const char *wstate); /* or NULL */
};

/* Payments: the bill's rows against the day's paid payments. */
static const struct recon_kind recon_payment_kind = {
    .day_sql = "SELECT sn, sn AS trade, pay_total AS amount, pay_status AS st FROM "
	       "flashsale_payment.payment WHERE pay_status IN (1, 2) AND pay_time >= ? "
	       "AND pay_time < ? ORDER BY id",
    .one_sql = "SELECT pay_total AS amount, pay_status AS st FROM "
	       "flashsale_payment.payment WHERE sn = ?",
    .refunds = 0,
    .state = recon_pay_state,
    .differs = recon_pay_differs,
    .repair = recon_pay_repair,
};

/* Refunds: the bill's refund rows against the refunds WeChat accepted that day. */
static const struct recon_kind recon_refund_kind = {
    .day_sql = "SELECT sn, payment_sn AS trade, amount, status AS st FROM "
	       "flashsale_payment.refund WHERE requested = 1 AND create_time >= ? "
	       "AND create_time < ? ORDER BY id",
    .one_sql = "SELECT amount, status AS st FROM flashsale_payment.refund WHERE sn = ?",
    .refunds = 1,
    .state = recon_ref_state,
    .differs = recon_ref_differs,
    .repair = NULL,
};

/* Record a difference of kind k on the row sn of payment trade (refunds name both). */
static void recon_kind_diff(struct recon *x, const struct recon_kind *k, const char *what,
			    const char *trade, const char *sn, long long lamount,
			    const char *lstate, long long wamount, const char *wstate,
			    const char *resolution)
{
	recon_diff(x, what, trade, k->refunds ? sn : NULL, lamount, lstate, wamount, wstate,
		   resolution);
}

/*
 * The bill's rows wx (by sn) against the day's local rows of kind k, counted and summed into
 * *count and *amount: only_wechat, amount, state and only_local differences. 0, or a DB_* rc.
 */
static int recon_compare(struct recon *x, const struct recon_kind *k, json_t *wx, long long *count,
			 long long *amount)
{
	json_t *rows = NULL, *row, *w;
	const char *sn;
	size_t i;
	void *tmp;

	int rc = db_query(x->j->db, &rows, k->day_sql, "ii", x->start, x->start + 86400);
	if (rc)
		return rc;
	json_t *local = recon_index(rows, count, amount);
	if (!local) {
		json_decref(rows);
		return DB_ERR;
	}
	json_object_foreach_safe(wx, tmp, sn, w)
	{
		long long wa = json_integer_value(json_object_get(w, "amount"));
		const char *ws = json_string_value(json_object_get(w, "state"));
		const char *trade = json_string_value(json_object_get(w, "trade"));
		json_t *l = json_object_get(local, sn);
		if (!l) {
			/* Not here on this day: look at the row, if any (another day, not paid). */
			json_t *r = NULL;
			db_query_row(x->j->db, &r, k->one_sql, "s", sn);
			long long la = r ? json_integer_value(json_object_get(r, "amount")) : -1;
			const char *ls = r ? k->state(r) : NULL;
			const char *res = k->repair ? k->repair(x, sn, ws) : NULL;
			recon_kind_diff(x, k, "only_wechat", trade, sn, la, ls, wa, ws, res);
			json_decref(r);
			continue;
		}
		long long la = json_integer_value(json_object_get(l, "amount"));
		const char *ls = k->state(l);
		if (la != wa)
			recon_kind_diff(x, k, "amount", trade, sn, la, ls, wa, ws, NULL);
		else if (k->differs(ls, ws))
			recon_kind_diff(x, k, "state", trade, sn, la, ls, wa, ws, NULL);
		json_object_del(local, sn);
	}
	json_array_foreach(rows, i, row)
	{
		const char *s = json_string_value(json_object_get(row, "sn"));
		if (json_object_get(local, s))
			recon_kind_diff(x, k, "only_local",
					json_string_value(json_object_get(row, "trade")), s,
					json_integer_value(json_object_get(row, "amount")),
					k->state(row), -1, NULL, NULL);
	}
	json_decref(local);
	json_decref(rows);
	return 0;
}

/* Replace the day's result in one transaction. 0, or a DB_* rc. */
static int recon_store(struct recon *x)
{
	json_t *d;
	size_t i;
	int rc = db_begin(x->j->db);
	if (rc)
		return rc;
	rc = db_exec(x->j->db, "DELETE FROM flashsale_payment.reconcile_diff WHERE bill_date = ?",
		     "s", x->date);
	json_array_foreach(x->diffs, i, d)
	{
		if (rc)
			break;
		rc = db_exec(
		    x->j->db,
		    "INSERT INTO flashsale_payment.reconcile_diff (bill_date, kind, out_trade_no, "
		    "out_refund_no, local_amount, local_state, wx_amount, wx_state, resolution, "
		    "create_time) VALUES (?, ?, ?, ?, NULLIF(?, -1), ?, NULLIF(?, -1), ?, ?, "
		    "UNIX_TIMESTAMP())",
		    "ssssisiss", x->date, json_string_value(json_object_get(d, "kind")),
		    json_string_value(json_object_get(d, "trade")),
		    json_string_value(json_object_get(d, "refund")),
		    (long long)json_integer_value(json_object_get(d, "lamount")),
		    json_string_value(json_object_get(d, "lstate")),
		    (long long)json_integer_value(json_object_get(d, "wamount")),
		    json_string_value(json_object_get(d, "wstate")),
		    json_string_value(json_object_get(d, "resolution")));
	}
	if (!rc)
		rc = db_exec(
		    x->j->db,
		    "INSERT INTO flashsale_payment.reconcile_day (bill_date, status, "
		    "local_pay_count, local_pay_amount, local_ref_count, local_ref_amount, "
		    "wx_pay_count, wx_pay_amount, wx_ref_count, wx_ref_amount, diff_count, "
		    "bill_sha1, run_seq, create_time, update_time) SELECT ?, ?, ?, ?, ?, ?, ?, ?, "
		    "?, ?, ?, ?, COALESCE(MAX(run_seq), 0) + 1, UNIX_TIMESTAMP(), UNIX_TIMESTAMP() "
		    "FROM flashsale_payment.reconcile_day ON DUPLICATE KEY UPDATE "
		    "status = VALUES(status), local_pay_count = VALUES(local_pay_count), "
		    "local_pay_amount = VALUES(local_pay_amount), "
		    "local_ref_count = VALUES(local_ref_count), "
		    "local_ref_amount = VALUES(local_ref_amount), "
		    "wx_pay_count = VALUES(wx_pay_count), wx_pay_amount = VALUES(wx_pay_amount), "
		    "wx_ref_count = VALUES(wx_ref_count), wx_ref_amount = VALUES(wx_ref_amount), "
		    "diff_count = VALUES(diff_count), bill_sha1 = VALUES(bill_sha1), "
		    "run_seq = VALUES(run_seq), update_time = UNIX_TIMESTAMP()",
		    "ssiiiiiiiiis", x->date,
		    json_array_size(x->diffs) ? "differences" : "reconciled", x->lc_pay_count,
		    x->lc_pay_amount, x->lc_ref_count, x->lc_ref_amount, x->wx_pay_count,
		    x->wx_pay_amount, x->wx_ref_count, x->wx_ref_amount,
		    (long long)json_array_size(x->diffs), x->sha1);
	if (rc) {
		db_rollback(x->j->db);
		return rc;
	}
	return db_commit(x->j->db);
}

/* --date YYYY-MM-DD (default: yesterday, Asia/Shanghai). */
static char recon_date_opt[16];

/* --date DAY. */
static int recon_parse(struct job *j, int argc, char **argv)
{
	(void)j;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--date") && i + 1 < argc)
			snprintf(recon_date_opt, sizeof recon_date_opt, "%s", argv[++i]);
		else
			return -1;
	}
	return 0;
}

/* One run: reconcile the day (see the top of the file). */
static int recon_run(struct job *j)
{
	struct recon x;
	char err[512];
	int rc = 1;

	memset(&x, 0, sizeof x);
	x.j = j;
	snprintf(x.date, sizeof x.date, "%s", recon_date_opt);
	if (!x.date[0])
		wxbill_yesterday(x.date);
	if (wxbill_day(x.date, &x.start) < 0) {
		fprintf(stderr, "flashsale-bill-reconcile: --date must be YYYY-MM-DD, got \"%s\"\n",
			x.date);
		return 2;
	}
	if (!(x.wx = wxpay_new(&j->cfg, err, sizeof err))) {
		fprintf(stderr, "flashsale-bill-reconcile: WeChat Pay not configured: %s\n", err);
		goto out;
	}
	x.wx_pay = json_object();
	x.wx_ref = json_object();
	x.diffs = json_array();
	if (!x.wx_pay || !x.wx_ref || !x.diffs) {
		fprintf(stderr, "flashsale-bill-reconcile: out of memory\n");
		goto out;
	}
	if (recon_fetch(&x) < 0)
		goto out;
	int db =
	    recon_compare(&x, &recon_payment_kind, x.wx_pay, &x.lc_pay_count, &x.lc_pay_amount) ||
	    recon_compare(&x, &recon_refund_kind, x.wx_ref, &x.lc_ref_count, &x.lc_ref_amount);
	if (!db && x.oom) {
		fprintf(stderr, "flashsale-bill-reconcile: out of memory\n");
		goto out;
	}
	if (db || recon_store(&x)) {
		log_error("reconcile %s: database: %s", x.date, db_last_error(j->db));
		fprintf(stderr, "flashsale-bill-reconcile: database error\n");
		goto out;
	}
	size_t n = json_array_size(x.diffs);
	log_json(n ? LOG_WARN : LOG_INFO, "bill reconciled",
		 json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "date", x.date, "payments",
			   (json_int_t)x.wx_pay_count, "refunds", (json_int_t)x.wx_ref_count,
			   "localPayments", (json_int_t)x.lc_pay_count, "localRefunds",
			   (json_int_t)x.lc_ref_count, "differences", (json_int_t)n));
	printf("bill-reconcile %s: %lld payments, %lld refunds at WeChat; %lld payments, %lld "
	       "refunds here; %zu differences\n",
	       x.date, x.wx_pay_count, x.wx_ref_count, x.lc_pay_count, x.lc_ref_count, n);
	rc = n ? 3 : 0;
out:
	json_decref(x.wx_pay);
	json_decref(x.wx_ref);
	json_decref(x.diffs);
	wxpay_free(x.wx);
	return rc;
}

/* The bus is for payment_apply (a payment only WeChat knows is applied as the callback does). */
static const struct job_entry recon_entry = {
    .name = "bill-reconcile",
    .usage = "[--date YYYY-MM-DD]  (Asia/Shanghai; default yesterday)",
    .needs = JOB_DB | JOB_CACHE | JOB_BUS | JOB_LOCK | JOB_RECORD,
    .lock_ms = 600000,
    .parse = recon_parse,
    .run = recon_run,
};

int main(int argc, char **argv)
{
	return job_main(&recon_entry, argc, argv);
}
