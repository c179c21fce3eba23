/* wxpay-bill.h - WeChat Pay v3 trade bills: the tradebill call, the signed download, the format. */
#ifndef FS_WXPAY_BILL_H
#define FS_WXPAY_BILL_H

#include <stddef.h>

#include "wxpay.h"

#define WXBILL_URL_MAX   1024
#define WXBILL_HASH_MAX  64 /* SHA1 hex is 40 */
#define WXBILL_STATE_MAX 32

/* Asia/Shanghai (+08:00, no daylight saving time): the time zone of WeChat's bill days. */
#define WXBILL_CST_OFFSET (8 * 3600)

/*
 * A bill date: YYYY-MM-DD, a real date from 1970 on; *start its first second in Asia/Shanghai
 * (the day is [start, start + 86400)). 0/-1.
 */
int wxbill_day(const char *date, long long *start);

/* Yesterday's bill date in Asia/Shanghai, YYYY-MM-DD (the default day to reconcile). */
void wxbill_yesterday(char out[16]);

/*
 * GET /v3/bill/tradebill?bill_date=DATE&bill_type=ALL (signed, answer verified): the bill's
 * download_url and its SHA1 hash_value. WXPAY_OK; WXPAY_NOT_FOUND when WeChat has no bill for
 * that day (NO_STATEMENT_EXIST: no trades); else an enum wxpay_rc with a line in err.
 */
int wxpay_tradebill(struct wxpay *w, const char *date, char *url, size_t urllen, char *hash,
		    size_t hashlen, char *err, size_t errlen);

/*
 * Download a bill: a GET signed with the merchant key, of a URL under the configured api_base
 * (anything else is refused: the signature is for WeChat only). At most max bytes; the body's
 * SHA1 must equal sha1_hex. *body is a new NUL-terminated buffer the caller frees. WXPAY_OK,
 * or WXPAY_ERR with err saying why (unreachable, too large, hash mismatch).
 */
int wxpay_bill_download(struct wxpay *w, const char *url, const char *sha1_hex, size_t max,
			char **body, size_t *len, char *err, size_t errlen);

/* One row of a bill: a payment (refund 0) or a refund. */
struct wxbill_row {
	int refund;
	char out_trade_no[WXPAY_SN_MAX];
	char out_refund_no[WXPAY_SN_MAX];
	char trade_state[WXBILL_STATE_MAX];  /* 交易状态: SUCCESS, REFUND, REVOKED, ... */
	char refund_state[WXBILL_STATE_MAX]; /* 退款状态 mapped to ours: SUCCESS, PROCESSING,
						CLOSED, ABNORMAL */
	long long amount; /* fen: 订单金额 of a payment, 申请退款金额 of a refund */
};

/* The summary line of a bill. */
struct wxbill_summary {
	long long rows;         /* 总交易单数 */
	long long total;        /* 应结订单总金额, fen */
	long long refund_total; /* 退款总金额, fen */
};

/* Called for each row; non-zero stops the parse (wxbill_parse then returns -1). */
typedef int (*wxbill_row_fn)(const struct wxbill_row *row, void *ud);

/*
 * Parse a bill in WeChat's format: a header line of column names, the rows with every field
 * prefixed by a backquote, then the summary header (总交易单数,...) and the summary line.
 * Columns are found by their names. The summary's row count must match the rows. 0, or -1
 * with the reason in err.
 */
int wxbill_parse(const char *text, size_t len, wxbill_row_fn fn, void *ud,
		 struct wxbill_summary *sum, char *err, size_t errlen);

/* Parse a yuan amount with at most two decimals ("12.30") into fen; -1 if malformed. */
int wxbill_fen(const char *s, size_t n, long long *fen);

#endif
