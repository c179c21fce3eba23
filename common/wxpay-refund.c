/* wxpay-refund.c - WeChat Pay v3 domestic refunds: request, query, and the refund object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wxpay-impl.h"

/* Is sn a valid out_trade_no / out_refund_no (6-64 of [A-Za-z0-9_-|*@])? */
static int wxpay_refund_sn_ok(const char *sn)
{
	size_t n = sn ? strlen(sn) : 0;
	return n >= 6 && n <= 64 &&
	       strspn(sn, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-|*@") ==
		   n;
}

/* Parse an answer body into a new JSON object, or NULL. */
static json_t *wxpay_answer_object(const struct wxpay_resp *r)
{
	json_error_t jerr;
	json_t *o = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int wxpay_refund(struct wxpay *w, const struct wxpay_refund_req *q, json_t **answer, char *code,
		 size_t codelen, char *err, size_t errlen)
{
	struct wxpay_resp r;
	*answer = NULL;
	code[0] = 0;
	if (!wxpay_refund_sn_ok(q->out_trade_no) || !wxpay_refund_sn_ok(q->out_refund_no) ||
	    q->refund <= 0 || q->total < q->refund) {
		snprintf(err, errlen, "invalid refund request");
		return WXPAY_ERR;
	}
	json_t *req = json_pack("{s:s,s:s,s:s,s:{s:I,s:I,s:s}}", "out_trade_no", q->out_trade_no,
				"out_refund_no", q->out_refund_no, "notify_url",
				w->refund_notify_url, "amount", "refund", (json_int_t)q->refund,
				"total", (json_int_t)q->total, "currency", "CNY");
	/* WeChat takes at most 80 characters of reason; the table holds 80 too. */
	if (req && q->reason && *q->reason)
		json_object_set_new(req, "reason", json_string(q->reason));
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return WXPAY_ERR;
	int rc = wxpay_call(w, "POST", "/v3/refund/domestic/refunds", body, &r, code, codelen, err,
			    errlen);
	free(body);
	if (rc == WXPAY_NOT_FOUND)
		rc = WXPAY_REJECTED; /* RESOURCE_NOT_EXISTS: no such trade */
	if (rc == WXPAY_OK && !(*answer = wxpay_answer_object(&r))) {
		snprintf(err, errlen, "WeChat Pay refund answer is not a JSON object");
		rc = WXPAY_ERR;
	}
	free(r.body);
	return rc;
}

int wxpay_refund_query(struct wxpay *w, const char *out_refund_no, json_t **answer, char *err,
		       size_t errlen)
{
	char path[128], code[64];
	struct wxpay_resp r;
	*answer = NULL;
	if (!wxpay_refund_sn_ok(out_refund_no)) {
		snprintf(err, errlen, "invalid out_refund_no");
		return WXPAY_ERR;
	}
	snprintf(path, sizeof path, "/v3/refund/domestic/refunds/%s", out_refund_no);
	int rc = wxpay_call(w, "GET", path, "", &r, code, sizeof code, err, errlen);
	if (rc == WXPAY_REJECTED && !strcmp(code, "RESOURCE_NOT_EXISTS"))
		rc = WXPAY_NOT_FOUND;
	if (rc == WXPAY_OK && !(*answer = wxpay_answer_object(&r))) {
		snprintf(err, errlen, "WeChat Pay refund query answer is not a JSON object");
		rc = WXPAY_ERR;
	}
	free(r.body);
	return rc;
}

/* Copy a string member into dst (cap); -1 if required and absent/empty, or too long. */
static int wxpay_refund_str(json_t *o, const char *key, int required, char *dst, size_t cap)
{
	const char *v = json_string_value(json_object_get(o, key));
	dst[0] = 0;
	if (!v || !*v)
		return required ? -1 : 0;
	if (strlen(v) >= cap)
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int wxpay_refund_parse(json_t *o, struct wxpay_refund_info *x)
{
	memset(x, 0, sizeof *x);
	json_t *amount = json_object_get(o, "amount");
	json_t *refund = json_object_get(amount, "refund"),
	       *total = json_object_get(amount, "total");
	const char *status_key = json_object_get(o, "refund_status") ? "refund_status" : "status";
	if (!json_is_object(o) || wxpay_refund_str(o, "mchid", 0, x->mchid, sizeof x->mchid) ||
	    wxpay_refund_str(o, "out_trade_no", 0, x->out_trade_no, sizeof x->out_trade_no) ||
	    wxpay_refund_str(o, "out_refund_no", 1, x->out_refund_no, sizeof x->out_refund_no) ||
	    wxpay_refund_str(o, "refund_id", 0, x->refund_id, sizeof x->refund_id) ||
	    wxpay_refund_str(o, status_key, 1, x->status, sizeof x->status) ||
	    !json_is_integer(refund) || json_integer_value(refund) <= 0 || !json_is_integer(total))
		return -1;
	if (strcmp(x->status, "SUCCESS") && strcmp(x->status, "CLOSED") &&
	    strcmp(x->status, "PROCESSING") && strcmp(x->status, "ABNORMAL"))
		return -1;
	x->refund = json_integer_value(refund);
	x->total = json_integer_value(total);
	const char *st = json_string_value(json_object_get(o, "success_time"));
	x->success_time = st ? wxpay_time_parse(st) : 0;
	if (x->success_time < 0)
		x->success_time = 0;
	return 0;
}

int wxpay_mchid_ours(struct wxpay *w, const char *mchid)
{
	return mchid && !strcmp(mchid, w->mchid);
}
