/* pay-callback.c - WeChat Pay's v3 notifications (payments and refunds): verify, decrypt, apply
 * once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "payment.h"
#include "refund.h"

/* Count a notification by HTTP status in flashsale_wxpay_notifications_total (lazily defined). */
static void pay_notify_count(int status)
{
	static const int statuses[] = {204, 400, 401, 404, 500, 503};
	static int slots[6] = {-2, -2, -2, -2, -2, -2};
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
		if (statuses[i] != status)
			continue;
		pthread_mutex_lock(&lock); /* defined once, whichever thread comes first */
		if (slots[i] == -2) {
			char labels[32];
			snprintf(labels, sizeof labels, "status=\"%d\"", status);
			slots[i] = metrics_define("flashsale_wxpay_notifications_total", labels,
						  "WeChat Pay notifications by our answer", 0);
		}
		int slot = slots[i];
		pthread_mutex_unlock(&lock);
		metrics_add(slot, 1);
	}
}

/* Answer WeChat: 204 on success, else status with {"code":"FAIL","message":...}. */
static int pay_notify_answer(struct http_req *req, int status, const char *message)
{
	pay_notify_count(status);
	if (status == 204)
		return http_send(req, 204, NULL, "", 0);
	json_t *o = json_pack("{s:s,s:s}", "code", "FAIL", "message", message);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	const char *body = s ? s : "{\"code\":\"FAIL\",\"message\":\"error\"}";
	http_send(req, status, "application/json", body, strlen(body));
	snprintf(req->msg, sizeof req->msg, "%s", message);
	log_json(status >= 500 ? LOG_ERROR : LOG_WARN, "wxpay notification refused",
		 json_pack("{s:i,s:s}", "status", status, "reason", message));
	free(s);
	json_decref(o);
	return 0;
}

/* Remember a notification nonce (SET NX with a TTL); 1 new, 0 seen before, -1 Redis down. */
static int pay_nonce_claim(struct app *app, const char *nonce)
{
	char ttl[24];
	snprintf(ttl, sizeof ttl, "%ld", app->cfg.wxpay_notify_skew * 2 + 60);
	redisReply *r = cache_command(app->cache, "SET fs:wxpay:nonce:%s 1 NX EX %s", nonce, ttl);
	if (!r)
		return -1;
	int rc = r->type == REDIS_REPLY_STATUS ? 1 : r->type == REDIS_REPLY_NIL ? 0 : -1;
	freeReplyObject(r);
	return rc;
}

/* Forget a nonce after a failure on our side, so WeChat's retry is not taken for a replay. */
static void pay_nonce_release(struct app *app, const char *nonce)
{
	redisReply *r = cache_command(app->cache, "DEL fs:wxpay:nonce:%s", nonce);
	if (r)
		freeReplyObject(r);
}

/* Why a notification was refused, for the answer. */
static const char *pay_notice_reason(int rc)
{
	switch (rc) {
	case NOTICE_BAD_HEADERS: return "missing or malformed Wechatpay-* headers";
	case NOTICE_UNKNOWN_SERIAL: return "unknown Wechatpay-Serial";
	case NOTICE_STALE: return "timestamp too far from now";
	case NOTICE_BAD_SIGNATURE: return "signature does not verify";
	case NOTICE_DECRYPT: return "resource does not decrypt";
	default: return "malformed notification";
	}
}

/* The event_type of a notification body: 1 with *kind set (NULL if absent), 0 if the body is
 * not a JSON object. */
static int pay_event_kind(const char *body, size_t len, char *kind, size_t kindlen)
{
	json_error_t jerr;
	json_t *n = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *ev =
	    json_is_object(n) ? json_string_value(json_object_get(n, "event_type")) : NULL;
	int ok = json_is_object(n);
	snprintf(kind, kindlen, "%s", ev ? ev : "");
	json_decref(n);
	return ok;
}

/* Apply a decrypted TRANSACTION.* resource: the HTTP status of our answer, why for a refusal. */
static int pay_on_transaction(struct app *app, json_t *txn, const char **why)
{
	struct payment_app *pa = app->domain;
	struct wxpay_txn x;

	if (wxpay_txn_parse(txn, &x) < 0) {
		*why = "transaction lacks required fields";
		return 400;
	}
	if (!wxpay_txn_ours(pa->wx, &x)) {
		*why = "mchid or appid is not ours";
		return 400;
	}
	switch (payment_apply(app->db, pa->bus, &x)) {
	case PAY_APPLIED:
	case PAY_ALREADY:
		/* A late payment's refund is recorded: send it now (refund-query retries). */
		refund_submit_late(app->db, app->cache, pa->bus, pa->wx, x.out_trade_no);
		return 204;
	case PAY_IGNORED: return 204;
	case PAY_NOT_FOUND: *why = "unknown out_trade_no"; return 404;
	case PAY_MISMATCH: *why = "amount does not match the payment"; return 400;
	case DB_DOWN: *why = "database unavailable"; return 503;
	case PAY_PUBLISH:
		*why = "payment recorded but its event could not be published";
		return 500;
	default: *why = "server error"; return 500;
	}
}

/*
 * Both callbacks (payment and refund): the same checks for every notification, then
 * TRANSACTION.* to the payment, REFUND.* to the refund. A notification of another kind is
 * acknowledged and ignored; a signed body that is not a JSON object is refused (400).
 */
int pay_callback(struct app *app, struct http_req *req)
{
	struct payment_app *pa = app->domain;
	struct wxpay_notice_hdr h = {
	    .timestamp = http_param(req, "HTTP_WECHATPAY_TIMESTAMP"),
	    .nonce = http_param(req, "HTTP_WECHATPAY_NONCE"),
	    .signature = http_param(req, "HTTP_WECHATPAY_SIGNATURE"),
	    .serial = http_param(req, "HTTP_WECHATPAY_SERIAL"),
	};
	json_t *res = NULL;
	size_t len;
	const char *body = http_body(req, &len);
	int status = 204, claimed = 0;
	const char *why = "";
	char kind[64];

	if (!pa->wx)
		return pay_notify_answer(req, 500, "WeChat Pay is not configured");
	int v = wxpay_notice_verify(pa->wx, &h, body, len, (long long)time(NULL));
	if (v != NOTICE_OK) {
		status = v == NOTICE_STALE || v == NOTICE_BAD_HEADERS ? 400 : 401;
		why = pay_notice_reason(v);
		goto out;
	}
	claimed = pay_nonce_claim(app, h.nonce);
	if (claimed <= 0) {
		status = claimed < 0 ? 503 : 401;
		why = claimed < 0 ? "cache unavailable"
				  : "replayed notification (nonce already seen)";
		claimed = 0;
		goto out;
	}
	if (!pay_event_kind(body, len, kind, sizeof kind)) {
		status = 400;
		why = "notification body is not a JSON object";
		goto out;
	}
	int is_refund = !strncmp(kind, "REFUND.", 7);
	if (!is_refund && strncmp(kind, "TRANSACTION.", 12)) {
		log_json(LOG_WARN, "wxpay notification of another kind ignored",
			 json_pack("{s:s}", "eventType", kind));
		goto out;
	}
	v = wxpay_notice_decrypt(pa->wx, body, len, &res);
	if (v != NOTICE_OK) {
		status = 400;
		why = pay_notice_reason(v);
		goto out;
	}
	status = is_refund ? pay_on_refund(app, res, &why) : pay_on_transaction(app, res, &why);
out:
	/* Our failure (5xx): WeChat retries with this nonce possibly, so let it through then. */
	if (claimed && status >= 500)
		pay_nonce_release(app, h.nonce);
	json_decref(res);
	return pay_notify_answer(req, status, why);
}
