/* wxpay-impl.h - the WeChat Pay client's state, shared by the wxpay*.c files only. */
#ifndef FS_WXPAY_IMPL_H
#define FS_WXPAY_IMPL_H

#include <curl/curl.h>

#include "dynbuf.h"
#include "wxpay.h"

/* Platform keys valid at once (WeChat rotates them with an overlap). */
#define WXPAY_MAX_PLATFORM_KEYS 8

/* One platform key and the serial WeChat names it by (Wechatpay-Serial). */
struct wxpay_platform {
	char serial[WXPAY_SERIAL_MAX + 1];
	EVP_PKEY *key;
};

/* A configured merchant: its keys, ids and a reusable curl handle. */
struct wxpay {
	char *api_base;
	char *mchid;
	char *appid;
	char *serial_no;
	char *notify_url;
	char *refund_notify_url;
	char apiv3_key[WXPAY_APIV3_KEY_LEN + 1];
	EVP_PKEY *merchant_key; /* signs our requests and JSAPI paySign */
	struct wxpay_platform platform[WXPAY_MAX_PLATFORM_KEYS]; /* verify answers, notifications */
	int nplatform;
	long timeout_ms;
	long skew;
	CURL *curl;
};

/* A random nonce of 32 alphanumeric characters. */
void wxpay_nonce(char out[33]);

/* Load platform_key/platform_serial and every entry of platform_keys into w. 0, or -1 with err. */
int wxpay_platform_load(struct wxpay *w, const struct fs_config *cfg, char *err, size_t errlen);

/* The platform key named by serial, or NULL. */
EVP_PKEY *wxpay_platform_find(struct wxpay *w, const char *serial);

/* The longest URL a call is sent to (api_base and path with query). */
#define WXPAY_URL_MAX 2048

/* An answer from WeChat: status, bounded body, the Wechatpay-* signature headers. */
struct wxpay_resp {
	long status;
	struct dynbuf buf; /* the body while it arrives, at most the call's maximum */
	char *body;        /* then handed over here (the caller frees it) */
	size_t len;
	char timestamp[24];
	char nonce[WXPAY_NONCE_MAX + 1];
	char signature[WXPAY_SIG_MAX + 1];
	char serial[WXPAY_SERIAL_MAX + 1];
};

/*
 * Send one request signed with the merchant key: method, path with query, body ("" for
 * none), an answer of at most max bytes within timeout_ms. r gets the status, the body and
 * the Wechatpay-* headers, none of it verified yet. WXPAY_OK or WXPAY_ERR (err says why);
 * the caller frees r->body either way.
 */
int wxpay_send(struct wxpay *w, const char *method, const char *path, const char *body, size_t max,
	       long timeout_ms, struct wxpay_resp *r, char *err, size_t errlen);

/*
 * One signed call (wxpay_send of at most WXPAY_MAX_RESPONSE): method, path with query, JSON body
 * ("" for none). On 2xx the answer's signature must verify with a platform key. enum wxpay_rc; for
 * 4xx, code gets WeChat's error code. The caller frees r->body.
 */
int wxpay_call(struct wxpay *w, const char *method, const char *path, const char *body,
	       struct wxpay_resp *r, char *code, size_t codelen, char *err, size_t errlen);

#endif
