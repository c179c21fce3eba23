/* wxpay-api.c - calls to the WeChat Pay v3 API over libcurl: the one signed call, prepay, query,
 * close, JSAPI sign. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dynbuf.h"
#include "wxpay-impl.h"

/* curl write callback: append to the body up to its maximum, else abort. */
static size_t wxpay_on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct wxpay_resp *r = ud;
	size_t n = size * nmemb;
	return dynbuf_add(&r->buf, p, n) == 0 ? n : 0;
}

/* Copy a header's value (trimmed) into dst if the line is "name: value"; longer values clear it. */
static void wxpay_header_take(const char *line, size_t n, const char *name, char *dst, size_t cap)
{
	size_t nl = strlen(name);
	if (n <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	const char *v = line + nl + 1;
	const char *e = line + n;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && isspace((unsigned char)e[-1]))
		e--;
	size_t len = (size_t)(e - v);
	if (len >= cap) {
		dst[0] = 0;
		return;
	}
	memcpy(dst, v, len);
	dst[len] = 0;
}

/* curl header callback: keep the Wechatpay-* headers. */
static size_t wxpay_on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct wxpay_resp *r = ud;
	size_t n = size * nmemb;
	wxpay_header_take(p, n, "Wechatpay-Timestamp", r->timestamp, sizeof r->timestamp);
	wxpay_header_take(p, n, "Wechatpay-Nonce", r->nonce, sizeof r->nonce);
	wxpay_header_take(p, n, "Wechatpay-Signature", r->signature, sizeof r->signature);
	wxpay_header_take(p, n, "Wechatpay-Serial", r->serial, sizeof r->serial);
	return n;
}

/* Put WeChat's error code of a 4xx answer into code, and a line for the logs into err. */
static void wxpay_error_text(const struct wxpay_resp *r, char *code, size_t codelen, char *err,
			     size_t errlen)
{
	json_error_t jerr;
	json_t *o = r->body ? json_loadb(r->body, r->len, 0, &jerr) : NULL;
	const char *c = o ? json_string_value(json_object_get(o, "code")) : NULL;
	const char *m = o ? json_string_value(json_object_get(o, "message")) : NULL;
	snprintf(code, codelen, "%s", c ? c : "");
	snprintf(err, errlen, "WeChat Pay HTTP %ld %.32s: %.160s", r->status, c ? c : "?",
		 m ? m : "");
	json_decref(o);
}

int wxpay_send(struct wxpay *w, const char *method, const char *path, const char *body, size_t max,
	       long timeout_ms, struct wxpay_resp *r, char *err, size_t errlen)
{
	char url[WXPAY_URL_MAX], auth[WXPAY_AUTH_MAX], hdr[WXPAY_AUTH_MAX + 32], nonce[33];
	struct curl_slist *h = NULL;

	memset(r, 0, sizeof *r);
	dynbuf_init(&r->buf, max);
	snprintf(err, errlen, "WeChat Pay call failed");
	if ((size_t)snprintf(url, sizeof url, "%s%s", w->api_base, path) >= sizeof url) {
		snprintf(err, errlen, "URL too long");
		return WXPAY_ERR;
	}
	wxpay_nonce(nonce);
	if (wxpay_authorization(w, method, path, body, (long long)time(NULL), nonce, auth,
				sizeof auth) < 0) {
		snprintf(err, errlen, "cannot sign the request");
		return WXPAY_ERR;
	}
	if (!w->curl && !(w->curl = curl_easy_init()))
		return WXPAY_ERR;
	CURL *c = w->curl;
	curl_easy_reset(c);
	snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "User-Agent: flashsale-wxpay/0.1");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 w->timeout_ms < 2000 ? w->timeout_ms : 2000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wxpay_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, wxpay_on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(h);
	int overflow = r->buf.failed;
	r->len = dynbuf_len(&r->buf);
	r->body = dynbuf_take(&r->buf);
	if (cc != CURLE_OK) {
		if (overflow)
			snprintf(err, errlen,
				 "WeChat Pay answer larger than %zu bytes (or out of memory)", max);
		else
			snprintf(err, errlen, "WeChat Pay unreachable: %s", curl_easy_strerror(cc));
		return WXPAY_ERR;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	return WXPAY_OK;
}

int wxpay_call(struct wxpay *w, const char *method, const char *path, const char *body,
	       struct wxpay_resp *r, char *code, size_t codelen, char *err, size_t errlen)
{
	code[0] = 0;
	if (wxpay_send(w, method, path, body, WXPAY_MAX_RESPONSE, w->timeout_ms, r, err, errlen))
		return WXPAY_ERR;

	/* Only a signed answer is believed: "timestamp\nnonce\nbody\n" with the platform key. */
	struct wxpay_notice_hdr nh = {r->timestamp, r->nonce, r->signature, r->serial};
	int v = wxpay_notice_verify(w, &nh, r->body ? r->body : "", r->len, (long long)time(NULL));
	if (r->status >= 200 && r->status < 300) {
		if (v != NOTICE_OK) {
			snprintf(err, errlen, "WeChat Pay answer not signed by the platform (%d)",
				 v);
			return WXPAY_ERR;
		}
		return WXPAY_OK;
	}
	wxpay_error_text(r, code, codelen, err, errlen);
	if (r->status >= 400 && r->status < 500 && v == NOTICE_OK)
		return r->status == 404 ? WXPAY_NOT_FOUND : WXPAY_REJECTED;
	return WXPAY_ERR;
}

/* Is sn a valid out_trade_no (6-32 of [A-Za-z0-9_-])? */
static int wxpay_sn_ok(const char *sn)
{
	size_t n = sn ? strlen(sn) : 0;
	return n >= 6 && n <= 32 &&
	       strspn(sn, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Prepay for trade_type "jsapi" or "native"; copies field (prepay_id / code_url) into out. */
static int wxpay_prepay(struct wxpay *w, const char *kind, const char *field,
			const struct wxpay_trade *t, char *out, size_t outlen, char *err,
			size_t errlen)
{
	char expire[32], path[64], code[64];
	struct wxpay_resp r;
	json_error_t jerr;
	json_t *ans = NULL;
	int rc;

	if (!wxpay_sn_ok(t->out_trade_no) || t->total <= 0) {
		snprintf(err, errlen, "invalid trade");
		return WXPAY_ERR;
	}
	wxpay_time_format(t->time_expire, expire);
	/* WeChat takes at most 127 bytes of description: cut on a UTF-8 boundary. */
	size_t dlen = strlen(t->description);
	if (dlen > WXPAY_DESCRIPTION_MAX) {
		dlen = WXPAY_DESCRIPTION_MAX;
		while (dlen > 0 && ((unsigned char)t->description[dlen] & 0xC0) == 0x80)
			dlen--;
	}
	json_t *req =
	    json_pack("{s:s,s:s,s:s%,s:s,s:s,s:s,s:{s:I,s:s}}", "appid", w->appid, "mchid",
		      w->mchid, "description", t->description, dlen, "out_trade_no",
		      t->out_trade_no, "time_expire", expire, "notify_url", w->notify_url, "amount",
		      "total", (json_int_t)t->total, "currency", "CNY");
	if (req && t->openid)
		json_object_set_new(req, "payer", json_pack("{s:s}", "openid", t->openid));
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return WXPAY_ERR;
	snprintf(path, sizeof path, "/v3/pay/transactions/%s", kind);
	rc = wxpay_call(w, "POST", path, body, &r, code, sizeof code, err, errlen);
	free(body);
	if (rc != WXPAY_OK)
		goto out;
	rc = WXPAY_ERR;
	ans = json_loadb(r.body ? r.body : "", r.len, 0, &jerr);
	const char *v = ans ? json_string_value(json_object_get(ans, field)) : NULL;
	if (!v || !*v || strlen(v) >= outlen) {
		snprintf(err, errlen, "WeChat Pay prepay answer without a usable %s", field);
		goto out;
	}
	memcpy(out, v, strlen(v) + 1);
	rc = WXPAY_OK;
out:
	json_decref(ans);
	free(r.body);
	return rc;
}

int wxpay_prepay_jsapi(struct wxpay *w, const struct wxpay_trade *t, char *out, size_t outlen,
		       char *err, size_t errlen)
{
	if (!t->openid || !*t->openid) {
		snprintf(err, errlen, "JSAPI needs the payer's openid");
		return WXPAY_ERR;
	}
	return wxpay_prepay(w, "jsapi", "prepay_id", t, out, outlen, err, errlen);
}

int wxpay_prepay_native(struct wxpay *w, const struct wxpay_trade *t, char *out, size_t outlen,
			char *err, size_t errlen)
{
	struct wxpay_trade nt = *t;
	nt.openid = NULL;
	return wxpay_prepay(w, "native", "code_url", &nt, out, outlen, err, errlen);
}

int wxpay_jsapi_params(struct wxpay *w, const char *prepay_id, json_t **out)
{
	char ts[24], nonce[33], pkg[WXPAY_PREPAY_MAX + 16], sig[WXPAY_SIG_MAX];
	char msg[WXPAY_PREPAY_MAX + 256];

	*out = NULL;
	snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
	wxpay_nonce(nonce);
	if ((size_t)snprintf(pkg, sizeof pkg, "prepay_id=%s", prepay_id) >= sizeof pkg)
		return -1;
	int n = snprintf(msg, sizeof msg, "%s\n%s\n%s\n%s\n", w->appid, ts, nonce, pkg);
	if (n < 0 || (size_t)n >= sizeof msg ||
	    wxpay_rsa_sign(w->merchant_key, msg, (size_t)n, sig, sizeof sig) < 0)
		return -1;
	*out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "appId", w->appid, "timeStamp", ts,
			 "nonceStr", nonce, "package", pkg, "signType", "RSA", "paySign", sig);
	return *out ? 0 : -1;
}

int wxpay_query(struct wxpay *w, const char *out_trade_no, json_t **trade, char *err, size_t errlen)
{
	char path[160], code[64];
	struct wxpay_resp r;
	json_error_t jerr;

	*trade = NULL;
	if (!wxpay_sn_ok(out_trade_no)) {
		snprintf(err, errlen, "invalid out_trade_no");
		return WXPAY_ERR;
	}
	snprintf(path, sizeof path, "/v3/pay/transactions/out-trade-no/%s?mchid=%s", out_trade_no,
		 w->mchid);
	int rc = wxpay_call(w, "GET", path, "", &r, code, sizeof code, err, errlen);
	if (rc == WXPAY_OK) {
		*trade = json_loadb(r.body ? r.body : "", r.len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(*trade)) {
			json_decref(*trade);
			*trade = NULL;
			snprintf(err, errlen, "WeChat Pay query answer is not a JSON object");
			rc = WXPAY_ERR;
		}
	} else if (rc == WXPAY_REJECTED && !strcmp(code, "ORDER_NOT_EXIST")) {
		rc = WXPAY_NOT_FOUND;
	}
	free(r.body);
	return rc;
}

int wxpay_close(struct wxpay *w, const char *out_trade_no, char *err, size_t errlen)
{
	char path[160], body[128], code[64];
	struct wxpay_resp r;

	if (!wxpay_sn_ok(out_trade_no)) {
		snprintf(err, errlen, "invalid out_trade_no");
		return WXPAY_ERR;
	}
	snprintf(path, sizeof path, "/v3/pay/transactions/out-trade-no/%s/close", out_trade_no);
	json_t *o = json_pack("{s:s}", "mchid", w->mchid);
	char *s = json_dumps(o, JSON_COMPACT);
	snprintf(body, sizeof body, "%s", s ? s : "{}");
	free(s);
	json_decref(o);
	int rc = wxpay_call(w, "POST", path, body, &r, code, sizeof code, err, errlen);
	if (rc == WXPAY_REJECTED && !strcmp(code, "ORDERPAID"))
		rc = WXPAY_PAID;
	free(r.body);
	return rc;
}
