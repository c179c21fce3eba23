/* wxpay.h - WeChat Pay API v3: signed requests, verified answers and notifications, payments. */
#ifndef FS_WXPAY_H
#define FS_WXPAY_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>

#include "config.h"
#include "db.h"

/* Bounds of what we accept from the network or a request. */
#define WXPAY_MAX_RESPONSE    (64 * 1024) /* body of an answer from WeChat */
#define WXPAY_SIG_MAX         512         /* base64 RSA-2048 signature is 344 characters */
#define WXPAY_NONCE_MAX       64
#define WXPAY_SERIAL_MAX      64
#define WXPAY_PREPAY_MAX      256 /* prepay_id or code_url */
#define WXPAY_AUTH_MAX        1024
#define WXPAY_APIV3_KEY_LEN   32
#define WXPAY_SN_MAX          64 /* out_trade_no / transaction_id */
#define WXPAY_DESCRIPTION_MAX 127

/* Outcome of a call to WeChat. */
enum wxpay_rc {
	WXPAY_OK = 0,
	WXPAY_ERR = -1,       /* network, timeout, bad or unsigned answer, 5xx */
	WXPAY_REJECTED = -2,  /* WeChat refused the request (4xx); its code is in err */
	WXPAY_NOT_FOUND = -3, /* query or close: ORDER_NOT_EXIST */
	WXPAY_PAID = -4,      /* close: the trade is already paid (ORDERPAID) */
};

/* Why a notification was refused (wxpay_notice_verify / wxpay_notice_decrypt). */
enum wxpay_notice_rc {
	NOTICE_OK = 0,
	NOTICE_BAD_HEADERS,    /* a Wechatpay-* header is missing or too long */
	NOTICE_UNKNOWN_SERIAL, /* not our platform key's serial */
	NOTICE_STALE,          /* timestamp more than notify_skew seconds off */
	NOTICE_BAD_SIGNATURE,
	NOTICE_BAD_BODY, /* not the v3 notification JSON */
	NOTICE_DECRYPT,  /* the resource does not decrypt (or was tampered with) */
};

struct wxpay;

/*
 * A client for cfg's merchant: loads the merchant private key and the platform
 * public key. NULL with a message in err when payments are not configured or
 * a key does not load.
 */
struct wxpay *wxpay_new(const struct fs_config *cfg, char *err, size_t errlen);

/* Free a client. */
void wxpay_free(struct wxpay *w);

/* --- cryptography (wxpay.c), exposed for the unit tests ------------------------------------ */

/* Load a PEM key file: a private key if private, else a public key. NULL on error. */
EVP_PKEY *wxpay_key_load(const char *path, int private);

/* Load a PEM key from memory (as wxpay_key_load). */
EVP_PKEY *wxpay_key_parse(const char *pem, int private);

/* SHA256withRSA (PKCS#1 v1.5) of msg, base64 into out (size outlen >= WXPAY_SIG_MAX). 0/-1. */
int wxpay_rsa_sign(EVP_PKEY *key, const char *msg, size_t len, char *out, size_t outlen);

/* Verify a base64 SHA256withRSA signature: 1 valid, 0 not. */
int wxpay_rsa_verify(EVP_PKEY *key, const char *msg, size_t len, const char *sig_b64);

/*
 * AEAD_AES_256_GCM of WeChat Pay v3: key is the 32-byte APIv3 key, nonce the
 * 12-character nonce string, ciphertext base64(ct || 16-byte tag). *plain is a
 * new NUL-terminated buffer the caller frees. 0, or -1 if it does not decrypt.
 */
int wxpay_aead_decrypt(const char *key, const char *nonce, const char *aad, const char *ct_b64,
		       char **plain, size_t *plain_len);

/* The inverse (the simulator's side, for tests): *ct_b64 is a new string. 0/-1. */
int wxpay_aead_encrypt(const char *key, const char *nonce, const char *aad, const char *plain,
		       size_t plain_len, char **ct_b64);

/*
 * The Authorization header value for a request: WECHATPAY2-SHA256-RSA2048
 * mchid="..",nonce_str="..",signature="..",timestamp="..",serial_no=".." over
 * "METHOD\nPATH_WITH_QUERY\nTIMESTAMP\nNONCE\nBODY\n". 0/-1.
 */
int wxpay_authorization(struct wxpay *w, const char *method, const char *path, const char *body,
			long long timestamp, const char *nonce, char *out, size_t outlen);

/* RFC 3339 text of a Unix time in China Standard Time (+08:00), as WeChat writes it. */
void wxpay_time_format(long long t, char out[32]);

/* Parse RFC 3339 (YYYY-MM-DDTHH:MM:SS with Z or +hh:mm) into Unix seconds; -1 if invalid. */
long long wxpay_time_parse(const char *s);

/* --- API calls (wxpay-api.c) ---------------------------------------------------------------- */

/* One trade to prepay. */
struct wxpay_trade {
	const char *out_trade_no;
	const char *description;
	long long total;       /* fen */
	long long time_expire; /* Unix seconds: the order's pay deadline */
	const char *openid;    /* JSAPI payer */
};

/* POST /v3/pay/transactions/jsapi: the prepay_id into out. enum wxpay_rc; err for logs. */
int wxpay_prepay_jsapi(struct wxpay *w, const struct wxpay_trade *t, char *out, size_t outlen,
		       char *err, size_t errlen);

/* POST /v3/pay/transactions/native: the code_url into out. */
int wxpay_prepay_native(struct wxpay *w, const struct wxpay_trade *t, char *out, size_t outlen,
			char *err, size_t errlen);

/*
 * The parameters a JSAPI page hands to WeixinJSBridge: appId, timeStamp,
 * nonceStr, package ("prepay_id=..."), signType "RSA", paySign (RSA-SHA256
 * over "appId\ntimeStamp\nnonceStr\npackage\n"). *out is a new object. 0/-1.
 */
int wxpay_jsapi_params(struct wxpay *w, const char *prepay_id, json_t **out);

/* GET /v3/pay/transactions/out-trade-no/{sn}?mchid=: *trade is the new transaction object. */
int wxpay_query(struct wxpay *w, const char *out_trade_no, json_t **trade, char *err,
		size_t errlen);

/* POST /v3/pay/transactions/out-trade-no/{sn}/close: WXPAY_OK, WXPAY_PAID, ... */
int wxpay_close(struct wxpay *w, const char *out_trade_no, char *err, size_t errlen);

/* --- refunds (wxpay-refund.c) -------------------------------------------------------------- */

/* One refund request: always sent with the same out_refund_no, which WeChat treats idempotently. */
struct wxpay_refund_req {
	const char *out_trade_no;
	const char *out_refund_no;
	const char *reason; /* may be empty */
	long long refund;   /* fen refunded by this request */
	long long total;    /* fen the trade took */
};

/* What WeChat says about a refund: the answer, a query, or a decrypted REFUND.* notification. */
struct wxpay_refund_info {
	char mchid[WXPAY_SN_MAX]; /* notifications only */
	char out_trade_no[WXPAY_SN_MAX];
	char out_refund_no[WXPAY_SN_MAX];
	char refund_id[WXPAY_SN_MAX];
	char status[16]; /* SUCCESS, CLOSED, PROCESSING, ABNORMAL */
	long long refund, total, success_time;
};

/*
 * POST /v3/refund/domestic/refunds (notify_url: the refund callback): *answer is the refund
 * object. enum wxpay_rc; WXPAY_REJECTED (code: WeChat's error code) when WeChat refused it.
 */
int wxpay_refund(struct wxpay *w, const struct wxpay_refund_req *r, json_t **answer, char *code,
		 size_t codelen, char *err, size_t errlen);

/* GET /v3/refund/domestic/refunds/{out_refund_no}; WXPAY_NOT_FOUND if WeChat has no such refund. */
int wxpay_refund_query(struct wxpay *w, const char *out_refund_no, json_t **answer, char *err,
		       size_t errlen);

/* Fill x from a refund object ("status" or, in notifications, "refund_status"); 0/-1. */
int wxpay_refund_parse(json_t *o, struct wxpay_refund_info *x);

/* Is mchid (of a refund notification) our merchant? */
int wxpay_mchid_ours(struct wxpay *w, const char *mchid);

/* --- notifications (wxpay.c) ---------------------------------------------------------------- */

/* The Wechatpay-* headers of a notification (any may be NULL). */
struct wxpay_notice_hdr {
	const char *timestamp;
	const char *nonce;
	const char *signature;
	const char *serial;
};

/* Check the headers, the timestamp against now and the signature over body. enum wxpay_notice_rc.
 */
int wxpay_notice_verify(struct wxpay *w, const struct wxpay_notice_hdr *h, const char *body,
			size_t len, long long now);

/* Parse a verified notification and decrypt its resource: *txn the new transaction object. */
int wxpay_notice_decrypt(struct wxpay *w, const char *body, size_t len, json_t **txn);

/* --- a transaction and applying it to a payment (wxpay-apply.c) ------------------------------ */

/* The fields of a v3 transaction we act on. */
struct wxpay_txn {
	char mchid[WXPAY_SN_MAX];
	char appid[WXPAY_SN_MAX];
	char out_trade_no[WXPAY_SN_MAX];
	char transaction_id[WXPAY_SN_MAX];
	char trade_state[32]; /* SUCCESS, NOTPAY, CLOSED, PAYERROR, REFUND, ... */
	long long total;      /* amount.total, fen */
	long long success_time;
};

/* Fill txn from a transaction object; -1 if a required field is missing or too long. */
int wxpay_txn_parse(json_t *t, struct wxpay_txn *txn);

/* Is the transaction for our merchant and app? */
int wxpay_txn_ours(struct wxpay *w, const struct wxpay_txn *txn);

/* Outcome of payment_apply. */
enum payment_apply_rc {
	PAY_APPLIED = 0,   /* this call recorded the payment (and published payment.status) */
	PAY_ALREADY = 1,   /* it was already recorded; payment.status published again */
	PAY_IGNORED = 2,   /* not a success; recorded as failed if it was waiting */
	PAY_NOT_FOUND = 3, /* no payment with that out_trade_no */
	PAY_MISMATCH = 4,  /* amount differs from the payment row */
	/* DB_DOWN, DB_ERR (enum db_rc, db.h) when MySQL failed */
	PAY_PUBLISH = -10, /* recorded, but payment.status could not be published: retry */
};

struct event_bus;

/*
 * Apply a transaction WeChat vouched for (a verified notification or query) to
 * its payment row once: waiting/failed -> paid with a state- and version-guarded
 * UPDATE, then publish payment.status keyed by the order sn:
 *   {"paymentSn","orderSn","userId","payStatus":1,"payTotal","payTime",
 *    "transactionId","tradeType","payType":"wxpay"}
 * An already-paid payment publishes again, so a lost publish is recovered by a
 * re-delivery (consumers are idempotent). A payment of an order already cancelled (a late
 * payment) is recorded and its full refund too (refund_late_record, once); the order stays
 * cancelled.
 */
int payment_apply(struct db *db, struct event_bus *bus, const struct wxpay_txn *txn);

/* Mark a waiting payment failed/closed (pay_status 0 -> -1) with WeChat's state. DB_* rc. */
int payment_mark_closed(struct db *db, const char *sn, const char *trade_state);

#endif
