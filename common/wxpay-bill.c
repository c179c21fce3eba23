/* wxpay-bill.c - WeChat Pay v3 trade bills: tradebill call, signed download (SHA1), parser; both
 * requests go out through wxpay_send (wxpay-api.c). */
#include "wxpay-bill.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dynbuf.h"
#include "wxpay-impl.h"

/* Is s a date YYYY-MM-DD? */
static int bill_date_ok(const char *s)
{
	return s && strlen(s) == 10 && strspn(s, "0123456789-") == 10 && s[4] == '-' && s[7] == '-';
}

int wxbill_day(const char *date, long long *start)
{
	struct tm tm = {0}, back;
	char check[16], extra;
	if (strlen(date) != 10 ||
	    sscanf(date, "%4d-%2d-%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &extra) != 3 ||
	    tm.tm_year < 1970)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	gmtime_r(&t, &back);
	strftime(check, sizeof check, "%Y-%m-%d", &back);
	if (strcmp(check, date)) /* 2026-02-30 and the like */
		return -1;
	*start = (long long)t - WXBILL_CST_OFFSET;
	return 0;
}

void wxbill_yesterday(char out[16])
{
	time_t y = time(NULL) + WXBILL_CST_OFFSET - 86400;
	struct tm tm;
	gmtime_r(&y, &tm);
	strftime(out, 16, "%Y-%m-%d", &tm);
}

int wxpay_tradebill(struct wxpay *w, const char *date, char *url, size_t urllen, char *hash,
		    size_t hashlen, char *err, size_t errlen)
{
	char path[128], code[64];
	struct wxpay_resp r;
	json_error_t jerr;
	json_t *o = NULL;

	url[0] = hash[0] = 0;
	if (!bill_date_ok(date)) {
		snprintf(err, errlen, "bad bill date");
		return WXPAY_ERR;
	}
	snprintf(path, sizeof path, "/v3/bill/tradebill?bill_date=%s&bill_type=ALL", date);
	int rc = wxpay_call(w, "GET", path, "", &r, code, sizeof code, err, errlen);
	if (rc == WXPAY_REJECTED || rc == WXPAY_NOT_FOUND) {
		/* A signed refusal: only NO_STATEMENT_EXIST (a day without trades) is "no bill". */
		rc = !strcmp(code, "NO_STATEMENT_EXIST") ? WXPAY_NOT_FOUND : WXPAY_REJECTED;
		goto out;
	}
	if (rc != WXPAY_OK)
		goto out;
	rc = WXPAY_ERR;
	o = json_loadb(r.body ? r.body : "", r.len, 0, &jerr);
	const char *u = json_string_value(json_object_get(o, "download_url"));
	const char *ht = json_string_value(json_object_get(o, "hash_type"));
	const char *hv = json_string_value(json_object_get(o, "hash_value"));
	if (!u || !hv || !ht || strcasecmp(ht, "SHA1") || strlen(u) >= urllen ||
	    strlen(hv) >= hashlen) {
		snprintf(err, errlen, "tradebill answer without a usable download_url/SHA1 hash");
		goto out;
	}
	memcpy(url, u, strlen(u) + 1);
	memcpy(hash, hv, strlen(hv) + 1);
	rc = WXPAY_OK;
out:
	json_decref(o);
	free(r.body);
	return rc;
}

int wxpay_bill_download(struct wxpay *w, const char *url, const char *sha1_hex, size_t max,
			char **body, size_t *len, char *err, size_t errlen)
{
	struct wxpay_resp r;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	size_t base = strlen(w->api_base);
	int rc = WXPAY_ERR;

	*body = NULL;
	*len = 0;
	/* Only a URL of WeChat's API host is fetched with our signature. */
	if (strncmp(url, w->api_base, base) || url[base] != '/') {
		snprintf(err, errlen, "download_url is not under the API base");
		return WXPAY_ERR;
	}
	/* A bill can be large: the whole-request timeout is a few times a normal call's. The
	 * file is not signed by WeChat: its SHA1 from the signed tradebill answer vouches. */
	if (wxpay_send(w, "GET", url + base, "", max, w->timeout_ms * 6, &r, err, errlen))
		goto out;
	if (r.status != 200) {
		snprintf(err, errlen, "bill download HTTP %ld", r.status);
		goto out;
	}
	if (!EVP_Digest(r.body ? r.body : "", r.len, md, &mdlen, EVP_sha1(), NULL)) {
		snprintf(err, errlen, "SHA1 failed");
		goto out;
	}
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcasecmp(hex, sha1_hex)) {
		snprintf(err, errlen, "bill hash mismatch: SHA1 %s, hash_value %.64s", hex,
			 sha1_hex);
		goto out;
	}
	*body = r.len ? r.body : calloc(1, 1); /* the body is NULL when empty */
	if (!*body) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	r.body = NULL;
	*len = r.len;
	rc = WXPAY_OK;
out:
	free(r.body);
	return rc;
}

/* ---- the bill format ------------------------------------------------------------------------ */

#define WXBILL_MAX_COLS 64

/* A line split into fields (pointers into the line, not NUL-terminated). */
struct bill_fields {
	int n;
	const char *f[WXBILL_MAX_COLS];
	size_t len[WXBILL_MAX_COLS];
};

/*
 * Split a line. Data lines: every field starts with '`' and fields are separated by ",`"
 * (a comma inside a value, as in a product name, stays in it). Header lines: plain commas.
 */
static int bill_split(const char *s, size_t n, struct bill_fields *out)
{
	out->n = 0;
	int ticked = n > 0 && s[0] == '`';
	size_t i = 0;
	while (i <= n) {
		if (out->n == WXBILL_MAX_COLS)
			return -1;
		size_t start = ticked ? i + 1 : i, j = start;
		if (ticked && (i >= n || s[i] != '`'))
			return -1;
		while (j < n && !(s[j] == ',' && (!ticked || (j + 1 < n && s[j + 1] == '`'))))
			j++;
		out->f[out->n] = s + start;
		out->len[out->n] = j >= start ? j - start : 0;
		out->n++;
		i = j + 1;
		if (j >= n)
			break;
	}
	return 0;
}

/* Index of the column named name in a header, or -1. */
static int bill_col(const struct bill_fields *h, const char *name)
{
	size_t nl = strlen(name);
	for (int i = 0; i < h->n; i++)
		if (h->len[i] == nl && !memcmp(h->f[i], name, nl))
			return i;
	return -1;
}

/* Copy field i into dst (empty when absent); -1 if it does not fit. */
static int bill_take(const struct bill_fields *r, int i, char *dst, size_t cap)
{
	dst[0] = 0;
	if (i < 0 || i >= r->n)
		return 0;
	if (r->len[i] >= cap)
		return -1;
	memcpy(dst, r->f[i], r->len[i]);
	dst[r->len[i]] = 0;
	return 0;
}

int wxbill_fen(const char *s, size_t n, long long *fen)
{
	long long yuan = 0;
	size_t i = 0;
	int neg = 0, digits = 0;
	if (i < n && s[i] == '-') {
		neg = 1;
		i++;
	}
	for (; i < n && isdigit((unsigned char)s[i]); i++, digits++) {
		if (yuan > 100000000000LL)
			return -1;
		yuan = yuan * 10 + (s[i] - '0');
	}
	long long cents = 0;
	if (i < n && s[i] == '.') {
		i++;
		int k = 0;
		for (; i < n && isdigit((unsigned char)s[i]) && k < 2; i++, k++)
			cents = cents * 10 + (s[i] - '0');
		if (k == 1)
			cents *= 10;
		/* Only zeros may follow (WeChat writes some columns with more decimals). */
		for (; i < n && s[i] == '0'; i++)
			;
	}
	if (!digits || i != n)
		return -1;
	*fen = (neg ? -1 : 1) * (yuan * 100 + cents);
	return 0;
}

/* Field i as a non-negative count; -1 if absent or not digits. */
static int bill_count(const struct bill_fields *f, int i, long long *out)
{
	if (i < 0 || i >= f->n || !f->len[i] || f->len[i] > 12)
		return -1;
	long long v = 0;
	for (size_t k = 0; k < f->len[i]; k++) {
		if (!isdigit((unsigned char)f->f[i][k]))
			return -1;
		v = v * 10 + (f->f[i][k] - '0');
	}
	*out = v;
	return 0;
}

/* WeChat's refund states in a bill, in our words (refund table). */
static void bill_refund_state(char *st)
{
	if (!strcmp(st, "REFUNDCLOSE"))
		strcpy(st, "CLOSED");
	else if (!strcmp(st, "CHANGE"))
		strcpy(st, "ABNORMAL");
}

/* The columns a parse reads, by index into the header. */
struct bill_cols {
	int out_trade_no, out_refund_no, trade_state, refund_state, total, refund_req, refund;
};

/* Turn one data line into a row; -1 if a needed field is missing or malformed. */
static int bill_row(const struct bill_fields *f, const struct bill_cols *c, struct wxbill_row *r)
{
	memset(r, 0, sizeof *r);
	if (bill_take(f, c->out_trade_no, r->out_trade_no, sizeof r->out_trade_no) ||
	    bill_take(f, c->out_refund_no, r->out_refund_no, sizeof r->out_refund_no) ||
	    bill_take(f, c->trade_state, r->trade_state, sizeof r->trade_state) ||
	    bill_take(f, c->refund_state, r->refund_state, sizeof r->refund_state) ||
	    !r->out_trade_no[0] || !r->trade_state[0])
		return -1;
	/* Payment rows carry "0" as their refund numbers. */
	if (!strcmp(r->out_refund_no, "0"))
		r->out_refund_no[0] = 0;
	r->refund = r->out_refund_no[0] != 0;
	int col = r->refund ? (c->refund_req >= 0 && c->refund_req < f->n && f->len[c->refund_req]
				   ? c->refund_req
				   : c->refund)
			    : c->total;
	if (col < 0 || col >= f->n || wxbill_fen(f->f[col], f->len[col], &r->amount) < 0)
		return -1;
	bill_refund_state(r->refund_state);
	return 0;
}

/* The columns of the header line; -1 without the trade columns. */
static int bill_header(const struct bill_fields *f, const char *line, struct bill_cols *c)
{
	*c = (struct bill_cols){bill_col(f, "商户订单号"), bill_col(f, "商户退款单号"),
				bill_col(f, "交易状态"),   bill_col(f, "退款状态"),
				bill_col(f, "订单金额"),   bill_col(f, "申请退款金额"),
				bill_col(f, "退款金额")};
	return c->out_trade_no < 0 || c->trade_state < 0 || c->total < 0 || line[0] == '`' ? -1 : 0;
}

/* The summary's columns (from its header line): rows, total, refunds. */
struct bill_sum_cols {
	int rows, total, refund;
};

/* The totals of the summary line into sum; -1 if one is malformed. */
static int bill_summary(const struct bill_fields *f, const struct bill_sum_cols *s,
			struct wxbill_summary *sum)
{
	if (bill_count(f, s->rows, &sum->rows) < 0)
		return -1;
	if (s->total >= 0 && s->total < f->n &&
	    wxbill_fen(f->f[s->total], f->len[s->total], &sum->total) < 0)
		return -1;
	if (s->refund >= 0 && s->refund < f->n &&
	    wxbill_fen(f->f[s->refund], f->len[s->refund], &sum->refund_total) < 0)
		return -1;
	return 0;
}

int wxbill_parse(const char *text, size_t len, wxbill_row_fn fn, void *ud,
		 struct wxbill_summary *sum, char *err, size_t errlen)
{
	struct bill_fields f, head = {0};
	struct bill_cols c = {-1, -1, -1, -1, -1, -1, -1};
	const char *p = text, *end = text + len;
	long long rows = 0, lineno = 0;
	int in_summary = 0, have_summary = 0;
	struct bill_sum_cols sc = {-1, -1, -1};

	memset(sum, 0, sizeof *sum);
	if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte order mark */
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t n = (size_t)(e - p);
		if (n && p[n - 1] == '\r')
			n--;
		const char *line = p;
		p = nl ? nl + 1 : end;
		if (!n)
			continue;
		lineno++;
		if (bill_split(line, n, &f) < 0) {
			snprintf(err, errlen, "bill line %lld: malformed", lineno);
			return -1;
		}
		if (lineno == 1) {
			head = f;
			if (bill_header(&f, line, &c) < 0) {
				snprintf(err, errlen, "bill header lacks the trade columns");
				return -1;
			}
			continue;
		}
		if (line[0] != '`') {
			/* The summary header: the next line holds the totals. */
			sc = (struct bill_sum_cols){bill_col(&f, "总交易单数"),
						    bill_col(&f, "应结订单总金额"),
						    bill_col(&f, "退款总金额")};
			if (in_summary || sc.rows < 0) {
				snprintf(err, errlen, "bill line %lld: unexpected header", lineno);
				return -1;
			}
			in_summary = 1;
			continue;
		}
		if (in_summary) {
			if (have_summary || bill_summary(&f, &sc, sum) < 0) {
				snprintf(err, errlen, "bill line %lld: bad summary", lineno);
				return -1;
			}
			have_summary = 1;
			continue;
		}
		struct wxbill_row r;
		if (f.n != head.n || bill_row(&f, &c, &r) < 0) {
			snprintf(err, errlen, "bill line %lld: bad trade row", lineno);
			return -1;
		}
		rows++;
		if (fn && fn(&r, ud)) {
			snprintf(err, errlen, "bill line %lld: rejected", lineno);
			return -1;
		}
	}
	if (lineno == 0) {
		snprintf(err, errlen, "empty bill");
		return -1;
	}
	if (!have_summary || sum->rows != rows) {
		snprintf(err, errlen, "bill summary missing or counts %lld rows, found %lld",
			 have_summary ? sum->rows : -1, rows);
		return -1;
	}
	return 0;
}
