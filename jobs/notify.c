/*
 * notify.c - flashsale-notify: order.paid events -> a WeChat subscribe message
 * to the buyer, sent through WeChat's /cgi-bin/message/subscribe/send with the
 * access token common/wxapi.c shares ([wx] settings). Each order gets one row in
 * flashsale_order.notification (unique per order and kind), so duplicate
 * events send once; failed sends are retried with doubling delays by a sweeper
 * until jobs.notify_attempts, then marked failed.
 *
 * usage: flashsale-notify [-c CONFIG]              the daemon (consumer + sweeper)
 *        flashsale-notify [-c CONFIG] --send SN    send (or resend) one order's message now
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "job.h"
#include "log.h"
#include "wxapi.h"

/* The consumer group of this job on order.paid, and the kind of its rows. */
#define NOTIFY_GROUP "notify"
#define NOTIFY_KIND  "order.paid"
/* A row being sent is leased for this long (another sender leaves it alone). */
#define NOTIFY_LEASE_MS 60000LL
/* Longest wait between two attempts. */
#define NOTIFY_BACKOFF_MAX_MS 3600000LL

/* Row status values (sql/007_order_jobs.sql). */
enum notify_status { NOTIFY_PENDING = 0, NOTIFY_SENT = 1, NOTIFY_FAILED = 2, NOTIFY_SKIPPED = 3 };

/* One sender: a database handle, and a WeChat client (with its own Redis) of its thread. */
struct notifier {
	const struct fs_config *cfg;
	struct db *db;
	struct cache *cache;
	struct wxapi *wx;
};

/* Wall-clock milliseconds (next_try_ms is absolute). */
static long long notify_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Make n's WeChat client (and the Redis handle its token cache uses). 0 or -1. */
static int notifier_open(struct notifier *n, const struct fs_config *cfg, struct db *db)
{
	n->cfg = cfg;
	n->db = db;
	n->cache = cache_new(cfg);
	n->wx = n->cache ? wxapi_new(cfg, n->cache) : NULL;
	return n->wx ? 0 : -1;
}

/* Free what notifier_open made. */
static void notifier_close(struct notifier *n)
{
	wxapi_free(n->wx);
	cache_free(n->cache);
	n->wx = NULL;
	n->cache = NULL;
}

/* The first max characters of a UTF-8 string (WeChat "thing" values hold 20). */
static json_t *notify_utf8_prefix(const char *s, size_t max)
{
	size_t i = 0, chars = 0;
	while (s[i] && chars < max) {
		i++;
		while ((s[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	return json_stringn(s, i);
}

/* The subscribe message of a paid order (WeChat's subscribe/send body). */
static json_t *notify_message(const struct fs_config *cfg, const char *sn, const char *openid,
			      json_t *row)
{
	char amount[32], when[32], page[128];
	long long total = json_integer_value(json_object_get(row, "total"));
	time_t pay_time = (time_t)json_integer_value(json_object_get(row, "payTime"));
	struct tm tm;
	const char *title = json_string_value(json_object_get(row, "title"));

	snprintf(amount, sizeof amount, "%lld.%02lld", total / 100, total % 100);
	gmtime_r(&pay_time, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(page, sizeof page, "pages/order/detail?sn=%s", sn);
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:{s:s}, s:{s:o}, s:{s:s}, s:{s:s}}}", "touser",
			 openid, "template_id", cfg->notify_template_id, "page", page, "lang",
			 "zh_CN", "data", "character_string1", "value", sn, "thing2", "value",
			 notify_utf8_prefix(title ? title : "", 20), "amount3", "value", amount,
			 "time4", "value", when);
}

/* Send body through subscribe/send; 0 when WeChat answered errcode 0 (msgid kept), else -1. */
static int notify_post(struct notifier *n, const char *body, char *err, size_t errlen, char *msgid,
		       size_t msgidlen)
{
	json_t *v = NULL;
	long errcode = 0;
	const char *url =
	    n->cfg->notify_url[0] ? n->cfg->notify_url : "/cgi-bin/message/subscribe/send";
	int rc = wxapi_post(n->wx, "subscribe_send", url, body, &v, &errcode);
	if (rc == WXAPI_OK) {
		json_t *id = json_object_get(v, "msgid");
		if (json_is_integer(id))
			snprintf(msgid, msgidlen, "%lld", (long long)json_integer_value(id));
		else
			snprintf(msgid, msgidlen, "%s",
				 json_is_string(id) ? json_string_value(id) : "");
	} else if (rc == WXAPI_REJECTED) {
		const char *m = json_string_value(json_object_get(v, "errmsg"));
		snprintf(err, errlen, "errcode %ld %.200s", errcode, m ? m : "");
	} else if (wxapi_last_status(n->wx)) {
		snprintf(err, errlen, "HTTP %ld: %s", wxapi_last_status(n->wx), wxapi_strerror(rc));
	} else {
		snprintf(err, errlen, "%s", wxapi_strerror(rc));
	}
	json_decref(v);
	return rc == WXAPI_OK ? 0 : -1;
}

/* Record the outcome of attempt number `attempts`. 0 or -1. */
static int notify_record(struct notifier *n, const char *sn, int sent, long long attempts,
			 const char *err, const char *msgid)
{
	long long backoff = n->cfg->notify_backoff_ms;
	for (long long i = 1; i < attempts && backoff < NOTIFY_BACKOFF_MAX_MS; i++)
		backoff *= 2;
	if (backoff > NOTIFY_BACKOFF_MAX_MS)
		backoff = NOTIFY_BACKOFF_MAX_MS;
	long long status = sent                                  ? NOTIFY_SENT
			   : attempts >= n->cfg->notify_attempts ? NOTIFY_FAILED
								 : NOTIFY_PENDING;
	return db_exec(n->db,
		       "UPDATE flashsale_order.notification SET status = ?, attempts = ?, "
		       "next_try_ms = ?, last_error = LEFT(?, 255), msgid = ?, "
		       "sent_time = IF(? = 1, UNIX_TIMESTAMP(), sent_time), "
		       "update_time = UNIX_TIMESTAMP() WHERE order_sn = ? AND kind = ?",
		       "iiississ", status, attempts, notify_now_ms() + backoff, err, msgid, status,
		       sn, NOTIFY_KIND)
		   ? -1
		   : 0;
}

/*
 * One attempt at the pending (and by the caller leased) notification of sn.
 * 0 when the row reached a new state (sent, retry later, failed, skipped), -1 on a
 * database error (the lease runs out and the sweeper tries again).
 */
static int notify_attempt(struct notifier *n, const char *sn)
{
	json_t *row = NULL, *msg = NULL;
	char err[256] = "", msgid[64] = "";
	char *body = NULL;
	int rc = -1;

	if (db_query_row(
		n->db, &row,
		"SELECT n.attempts, o.title, o.total_price AS total, o.pay_time AS payTime, "
		"COALESCE(NULLIF(n.touser, ''), u.openid, '') AS openid FROM "
		"flashsale_order.notification n "
		"JOIN flashsale_order.orders o ON o.sn = n.order_sn "
		"LEFT JOIN flashsale_usercenter.user u ON u.id = n.user_id "
		"WHERE n.order_sn = ? AND n.kind = ? AND n.status = 0",
		"ss", sn, NOTIFY_KIND))
		goto out;
	rc = 0;
	if (!row)
		goto out; /* sent or given up meanwhile */
	long long attempts = json_integer_value(json_object_get(row, "attempts")) + 1;
	const char *openid = json_string_value(json_object_get(row, "openid"));
	if (!openid || !*openid) {
		rc = db_exec(n->db,
			     "UPDATE flashsale_order.notification SET status = 3, "
			     "last_error = 'the buyer has no WeChat openid', "
			     "update_time = UNIX_TIMESTAMP() WHERE order_sn = ? AND kind = ?",
			     "ss", sn, NOTIFY_KIND)
			 ? -1
			 : 0;
		goto out;
	}
	msg = notify_message(n->cfg, sn, openid, row);
	body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	int sent = body && notify_post(n, body, err, sizeof err, msgid, sizeof msgid) == 0;
	log_json(sent ? LOG_INFO : LOG_WARN, sent ? "notification sent" : "notification failed",
		 json_pack("{s:s, s:I, s:s}", "orderSn", sn, "attempt", (json_int_t)attempts,
			   "error", err));
	rc = notify_record(n, sn, sent, attempts, err, msgid);
out:
	free(body);
	json_decref(msg);
	json_decref(row);
	return rc;
}

/*
 * Make sure sn has a row (touser: the payer's openid from the event, or NULL for
 * the account's), leased to us if we created it: 1 when this call created
 * it (send now), 0 when it existed, -1 on a database error.
 */
static int notify_enqueue(struct notifier *n, const char *sn, long long user_id, const char *touser)
{
	int rc =
	    db_exec(n->db,
		    "INSERT IGNORE INTO flashsale_order.notification (order_sn, kind, user_id, "
		    "touser, status, attempts, next_try_ms, create_time, update_time) "
		    "VALUES (?, ?, ?, ?, 0, 0, ?, UNIX_TIMESTAMP(), UNIX_TIMESTAMP())",
		    "ssisi", sn, NOTIFY_KIND, user_id, touser ? touser : "",
		    notify_now_ms() + NOTIFY_LEASE_MS);
	if (rc)
		return -1;
	return db_affected_rows(n->db) == 1;
}

/* Handle one order.paid event: 0 when recorded, -1 to see it again. */
static int on_order_paid(void *ctx, const char *topic, const char *key, json_t *ev)
{
	struct notifier *n = ctx;
	const char *sn = json_string_value(json_object_get(ev, "orderSn"));
	json_t *uid = json_object_get(ev, "userId");
	const char *openid = json_string_value(json_object_get(ev, "openid"));

	if (!sn || !*sn || strlen(sn) > 40 || !json_is_integer(uid)) {
		log_json(LOG_ERROR, "order.paid without orderSn/userId; dropped",
			 json_pack("{s:s}", "key", key));
		return 0;
	}
	if (openid && strlen(openid) > 64)
		openid = NULL;
	int created = notify_enqueue(n, sn, json_integer_value(uid), openid);
	if (created < 0)
		return -1;
	if (created)
		notify_attempt(n, sn); /* a failure is the sweeper's to retry */
	return 0;
}

/* Retry pending rows that are due, each leased first. 0 or -1. */
static int notify_sweep(struct notifier *n)
{
	json_t *rows = NULL;
	size_t i;
	json_t *r;
	long long now = notify_now_ms();

	if (db_query(n->db, &rows,
		     "SELECT order_sn AS sn, next_try_ms AS due FROM flashsale_order.notification "
		     "WHERE status = 0 AND next_try_ms <= ? ORDER BY next_try_ms LIMIT 20",
		     "i", now))
		return -1;
	json_array_foreach(rows, i, r)
	{
		const char *sn = json_string_value(json_object_get(r, "sn"));
		long long due = json_integer_value(json_object_get(r, "due"));
		if (job_stop)
			break;
		if (db_exec(n->db,
			    "UPDATE flashsale_order.notification SET next_try_ms = ? "
			    "WHERE order_sn = ? AND kind = ? AND status = 0 AND next_try_ms = ?",
			    "issi", now + NOTIFY_LEASE_MS, sn, NOTIFY_KIND, due))
			break;
		if (db_affected_rows(n->db) == 1)
			notify_attempt(n, sn);
	}
	json_decref(rows);
	return 0;
}

/* The consumer thread: order.paid events until job_stop. */
static void *notify_consumer(void *arg)
{
	struct job *j = arg;
	struct notifier n;
	if (notifier_open(&n, &j->cfg, j->db) == 0)
		event_consume(j->bus, NOTIFY_GROUP, "order.paid", on_order_paid, &n, &job_stop);
	else
		log_error("notify: cannot make the WeChat client");
	notifier_close(&n);
	job_stop = 1;
	return NULL;
}

/* --send SN: (re)send one order's message now; exit 0 if sent. */
static int notify_send_one(struct job *j, const char *sn)
{
	struct notifier n;
	json_t *row = NULL;
	int rc = 1;

	if (notifier_open(&n, &j->cfg, j->db) < 0 ||
	    db_query_row(j->db, &row,
			 "SELECT user_id FROM flashsale_order.orders WHERE sn = ? AND "
			 "trade_state IN (1, 2)",
			 "s", sn)) {
		fprintf(stderr, "flashsale-notify: database error\n");
		goto out;
	}
	if (!row) {
		fprintf(stderr, "flashsale-notify: no paid order %s\n", sn);
		goto out;
	}
	/* Take the row over whatever its state: an operator asked for this send. */
	if (notify_enqueue(&n, sn, json_integer_value(json_object_get(row, "user_id")), NULL) < 0 ||
	    db_exec(j->db,
		    "UPDATE flashsale_order.notification SET status = 0, next_try_ms = ? "
		    "WHERE order_sn = ? AND kind = ? AND status <> 1",
		    "iss", notify_now_ms() + NOTIFY_LEASE_MS, sn, NOTIFY_KIND) ||
	    notify_attempt(&n, sn) < 0) {
		fprintf(stderr, "flashsale-notify: database error\n");
		goto out;
	}
	json_decref(row);
	if (db_query_row(j->db, &row,
			 "SELECT status, attempts, last_error FROM flashsale_order.notification "
			 "WHERE order_sn = ? AND kind = ?",
			 "ss", sn, NOTIFY_KIND) ||
	    !row)
		goto out;
	long long st = json_integer_value(json_object_get(row, "status"));
	printf("%s: %s after %lld attempt(s) %s\n", sn,
	       st == NOTIFY_SENT      ? "sent"
	       : st == NOTIFY_FAILED  ? "failed"
	       : st == NOTIFY_SKIPPED ? "skipped"
				      : "pending",
	       (long long)json_integer_value(json_object_get(row, "attempts")),
	       json_string_value(json_object_get(row, "last_error")));
	rc = st == NOTIFY_SENT ? 0 : 1;
out:
	json_decref(row);
	notifier_close(&n);
	return rc;
}

/* --send SN: send that order's notification once and exit, instead of running. */
static const char *notify_send_sn;

/* --send SN (no event bus, not a daemon). */
static int notify_parse(struct job *j, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--send") && i + 1 < argc)
			notify_send_sn = argv[++i];
		else
			return -1;
	}
	if (notify_send_sn)
		j->needs &= ~(unsigned)(JOB_BUS | JOB_DAEMON);
	return 0;
}

/* The consumer thread and the sweeper until job_stop; or one --send. */
static int notify_run(struct job *j)
{
	pthread_t consumer;
	int rc = 0;

	/* Before the threads: wxapi_new's own call then only counts up. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	if (notify_send_sn) {
		rc = notify_send_one(j, notify_send_sn);
		goto out;
	}
	/* The sweeper (this thread) has its own database handle; the consumer uses j->db. */
	struct notifier sweeper;
	int opened = notifier_open(&sweeper, &j->cfg, db_new(&j->cfg));
	if (opened < 0 || !sweeper.db || pthread_create(&consumer, NULL, notify_consumer, j)) {
		log_error("notify: cannot start");
		rc = 1;
	} else {
		log_info("notify ready: sending to %s",
			 j->cfg.notify_url[0] ? j->cfg.notify_url : j->cfg.wx_api_base);
		while (!job_stop) {
			notify_sweep(&sweeper);
			struct timespec ts = {0, 200 * 1000000L};
			nanosleep(&ts, NULL);
		}
		pthread_join(consumer, NULL);
	}
	notifier_close(&sweeper);
	db_free(sweeper.db);
out:
	curl_global_cleanup();
	return rc;
}

static const struct job_entry notify_entry = {
    .name = "notify",
    .usage = "[--send SN]",
    .needs = JOB_DB | JOB_CACHE | JOB_BUS | JOB_DAEMON,
    .parse = notify_parse,
    .run = notify_run,
};

int main(int argc, char **argv)
{
	return job_main(&notify_entry, argc, argv);
}
