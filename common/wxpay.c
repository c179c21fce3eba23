/* wxpay.c - WeChat Pay v3 cryptography (OpenSSL EVP), the client and notification checks. */
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ids.h"
#include "wxpay-impl.h"

#define WXPAY_GCM_TAG 16

/* Decode base64 (no newlines) into a new buffer; -1 if malformed or longer than max. */
static int wxpay_b64_decode(const char *in, size_t max, unsigned char **out, size_t *outlen)
{
	size_t n = strlen(in);
	if (n == 0 || n % 4 || n / 4 * 3 > max)
		return -1;
	unsigned char *buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -1;
	int got = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
	if (got < 0) {
		free(buf);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	size_t pad = (in[n - 1] == '=') + (in[n - 2] == '=');
	*out = buf;
	*outlen = (size_t)got - pad;
	return 0;
}

/* Encode len bytes as base64 into a new string. */
static char *wxpay_b64_encode(const unsigned char *in, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

void wxpay_nonce(char out[33])
{
	id_hex32(out); /* 128 random bits from libsodium, as upper-case hex */
	for (int i = 0; i < 32; i++)
		if (out[i] >= 'a')
			out[i] = (char)(out[i] - 'a' + 'A');
}

EVP_PKEY *wxpay_key_parse(const char *pem, int private)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = NULL;
	if (!bio)
		return NULL;
	key = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
		      : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

EVP_PKEY *wxpay_key_load(const char *path, int private)
{
	char buf[16384];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	EVP_PKEY *key = wxpay_key_parse(buf, private);
	OPENSSL_cleanse(buf, sizeof buf);
	return key;
}

int wxpay_rsa_sign(EVP_PKEY *key, const char *msg, size_t len, char *out, size_t outlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t siglen = sizeof sig;
	int rc = -1;
	char *b64 = NULL;

	if (!ctx || EVP_PKEY_get_size(key) > (int)sizeof sig)
		goto out;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)msg, len) != 1)
		goto out;
	b64 = wxpay_b64_encode(sig, siglen);
	if (!b64 || strlen(b64) >= outlen)
		goto out;
	memcpy(out, b64, strlen(b64) + 1);
	rc = 0;
out:
	free(b64);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int wxpay_rsa_verify(EVP_PKEY *key, const char *msg, size_t len, const char *sig_b64)
{
	unsigned char *sig = NULL;
	size_t siglen;
	int ok = 0;
	EVP_MD_CTX *ctx = NULL;

	if (!sig_b64 || strlen(sig_b64) > WXPAY_SIG_MAX ||
	    wxpay_b64_decode(sig_b64, WXPAY_SIG_MAX, &sig, &siglen) < 0)
		return 0;
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)msg, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	free(sig);
	return ok;
}

int wxpay_aead_decrypt(const char *key, const char *nonce, const char *aad, const char *ct_b64,
		       char **plain, size_t *plain_len)
{
	unsigned char *ct = NULL, *pt = NULL;
	size_t ctlen, nlen = nonce ? strlen(nonce) : 0;
	int len, fin, rc = -1;
	EVP_CIPHER_CTX *ctx = NULL;

	*plain = NULL;
	if (!key || strlen(key) != WXPAY_APIV3_KEY_LEN || nlen == 0 || nlen > WXPAY_NONCE_MAX ||
	    !aad || !ct_b64 || wxpay_b64_decode(ct_b64, WXPAY_MAX_RESPONSE, &ct, &ctlen) < 0 ||
	    ctlen < WXPAY_GCM_TAG)
		goto out;
	ctlen -= WXPAY_GCM_TAG;
	pt = malloc(ctlen + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!pt || !ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)nlen, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, (const unsigned char *)key,
			       (const unsigned char *)nonce) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(ctx, pt, &len, ct, (int)ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, WXPAY_GCM_TAG, ct + ctlen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, pt + len, &fin) != 1)
		goto out;
	pt[len + fin] = 0;
	*plain = (char *)pt;
	*plain_len = (size_t)(len + fin);
	pt = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(ct);
	free(pt);
	return rc;
}

int wxpay_aead_encrypt(const char *key, const char *nonce, const char *aad, const char *plain,
		       size_t plain_len, char **ct_b64)
{
	unsigned char *ct = malloc(plain_len + WXPAY_GCM_TAG);
	int len, fin, rc = -1;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	*ct_b64 = NULL;
	if (!ct || !ctx || strlen(key) != WXPAY_APIV3_KEY_LEN ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)strlen(nonce), NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, (const unsigned char *)key,
			       (const unsigned char *)nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(ctx, ct, &len, (const unsigned char *)plain, (int)plain_len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ct + len, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, WXPAY_GCM_TAG, ct + len + fin) != 1)
		goto out;
	*ct_b64 = wxpay_b64_encode(ct, (size_t)(len + fin) + WXPAY_GCM_TAG);
	rc = *ct_b64 ? 0 : -1;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(ct);
	return rc;
}

int wxpay_authorization(struct wxpay *w, const char *method, const char *path, const char *body,
			long long timestamp, const char *nonce, char *out, size_t outlen)
{
	char sig[WXPAY_SIG_MAX];
	size_t n = strlen(method) + strlen(path) + strlen(body) + strlen(nonce) + 64;
	char *msg = malloc(n);
	int rc = -1;

	if (!msg)
		return -1;
	int mlen = snprintf(msg, n, "%s\n%s\n%lld\n%s\n%s\n", method, path, timestamp, nonce, body);
	if (mlen > 0 && (size_t)mlen < n &&
	    wxpay_rsa_sign(w->merchant_key, msg, (size_t)mlen, sig, sizeof sig) == 0) {
		int k = snprintf(out, outlen,
				 "WECHATPAY2-SHA256-RSA2048 mchid=\"%s\",nonce_str=\"%s\","
				 "signature=\"%s\",timestamp=\"%lld\",serial_no=\"%s\"",
				 w->mchid, nonce, sig, timestamp, w->serial_no);
		rc = k > 0 && (size_t)k < outlen ? 0 : -1;
	}
	free(msg);
	return rc;
}

void wxpay_time_format(long long t, char out[32])
{
	time_t cst = (time_t)(t + 8 * 3600);
	struct tm tm;
	gmtime_r(&cst, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

long long wxpay_time_parse(const char *s)
{
	struct tm tm = {0};
	int consumed = 0, oh = 0, om = 0;
	long long off = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
		return -1;
	const char *z = s + consumed;
	if (!strcmp(z, "Z")) {
		off = 0;
	} else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 &&
		   sscanf(z + 1, "%2d:%2d", &oh, &om) == 2 && oh < 24 && om < 60) {
		off = (oh * 3600LL + om * 60LL) * (z[0] == '+' ? 1 : -1);
	} else {
		return -1;
	}
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) - off;
}

/* Copy a required config string; -1 with a message naming the key if it is empty. */
static int wxpay_need(char **dst, const char *v, const char *key, char *err, size_t errlen)
{
	if (!v || !*v) {
		snprintf(err, errlen, "wxpay.%s is not set", key);
		return -1;
	}
	*dst = strdup(v);
	return *dst ? 0 : -1;
}

struct wxpay *wxpay_new(const struct fs_config *cfg, char *err, size_t errlen)
{
	struct wxpay *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (wxpay_need(&w->mchid, cfg->wxpay_mchid, "mchid", err, errlen) ||
	    wxpay_need(&w->appid, cfg->wxpay_appid, "appid", err, errlen) ||
	    wxpay_need(&w->api_base, cfg->wxpay_api_base, "api_base", err, errlen) ||
	    wxpay_need(&w->serial_no, cfg->wxpay_serial_no, "serial_no", err, errlen) ||
	    wxpay_need(&w->notify_url, cfg->wxpay_notify_url, "notify_url", err, errlen))
		goto fail;
	if (strlen(cfg->wxpay_apiv3_key) != WXPAY_APIV3_KEY_LEN) {
		snprintf(err, errlen, "wxpay.apiv3_key must be exactly 32 characters");
		goto fail;
	}
	memcpy(w->apiv3_key, cfg->wxpay_apiv3_key, WXPAY_APIV3_KEY_LEN + 1);
	w->merchant_key = wxpay_key_load(cfg->wxpay_private_key, 1);
	if (!w->merchant_key) {
		snprintf(err, errlen, "wxpay.private_key: cannot load an RSA private key from %s",
			 cfg->wxpay_private_key);
		goto fail;
	}
	if (wxpay_platform_load(w, cfg, err, errlen) < 0)
		goto fail;
	if (cfg->wxpay_refund_url && *cfg->wxpay_refund_url) {
		w->refund_notify_url = strdup(cfg->wxpay_refund_url);
	} else {
		/* .../thirdPaymentWxPayCallback -> .../thirdPaymentWxRefundCallback */
		const char *pay = "thirdPaymentWxPayCallback";
		const char *at = strstr(w->notify_url, pay);
		size_t n = strlen(w->notify_url) + 16;
		w->refund_notify_url = malloc(n);
		if (w->refund_notify_url && at)
			snprintf(w->refund_notify_url, n, "%.*sthirdPaymentWxRefundCallback%s",
				 (int)(at - w->notify_url), w->notify_url, at + strlen(pay));
		else if (w->refund_notify_url)
			snprintf(w->refund_notify_url, n, "%s", w->notify_url);
	}
	if (!w->refund_notify_url) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	w->timeout_ms = cfg->wxpay_timeout_ms;
	w->skew = cfg->wxpay_notify_skew;
	return w;
fail:
	wxpay_free(w);
	return NULL;
}

void wxpay_free(struct wxpay *w)
{
	if (!w)
		return;
	free(w->api_base);
	free(w->mchid);
	free(w->appid);
	free(w->serial_no);
	free(w->notify_url);
	free(w->refund_notify_url);
	OPENSSL_cleanse(w->apiv3_key, sizeof w->apiv3_key);
	EVP_PKEY_free(w->merchant_key);
	for (int i = 0; i < w->nplatform; i++)
		EVP_PKEY_free(w->platform[i].key);
	if (w->curl)
		curl_easy_cleanup(w->curl);
	free(w);
}

int wxpay_notice_verify(struct wxpay *w, const struct wxpay_notice_hdr *h, const char *body,
			size_t len, long long now)
{
	char *end;
	if (!h->timestamp || !h->nonce || !h->signature || !h->serial ||
	    strlen(h->timestamp) > 20 || !*h->nonce || strlen(h->nonce) > WXPAY_NONCE_MAX ||
	    strlen(h->signature) > WXPAY_SIG_MAX || strlen(h->serial) > WXPAY_SERIAL_MAX)
		return NOTICE_BAD_HEADERS;
	long long ts = strtoll(h->timestamp, &end, 10);
	if (end == h->timestamp || *end)
		return NOTICE_BAD_HEADERS;
	EVP_PKEY *key = wxpay_platform_find(w, h->serial);
	if (!key)
		return NOTICE_UNKNOWN_SERIAL;
	if (ts < now - w->skew || ts > now + w->skew)
		return NOTICE_STALE;

	size_t n = strlen(h->timestamp) + strlen(h->nonce) + len + 4;
	char *msg = malloc(n);
	if (!msg)
		return NOTICE_BAD_SIGNATURE;
	int k = snprintf(msg, n, "%s\n%s\n", h->timestamp, h->nonce);
	memcpy(msg + k, body, len);
	msg[k + len] = '\n';
	int ok = wxpay_rsa_verify(key, msg, (size_t)k + len + 1, h->signature);
	free(msg);
	return ok ? NOTICE_OK : NOTICE_BAD_SIGNATURE;
}

int wxpay_notice_decrypt(struct wxpay *w, const char *body, size_t len, json_t **txn)
{
	json_error_t jerr;
	const char *algorithm, *ciphertext, *nonce, *aad = "";
	char *plain = NULL;
	size_t plen;
	int rc = NOTICE_BAD_BODY;

	*txn = NULL;
	json_t *n = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *res = n ? json_object_get(n, "resource") : NULL;
	if (!json_is_object(res) ||
	    json_unpack(res, "{s:s,s:s,s:s,s?s}", "algorithm", &algorithm, "ciphertext",
			&ciphertext, "nonce", &nonce, "associated_data", &aad) ||
	    strcmp(algorithm, "AEAD_AES_256_GCM"))
		goto out;
	rc = NOTICE_DECRYPT;
	if (wxpay_aead_decrypt(w->apiv3_key, nonce, aad, ciphertext, &plain, &plen) < 0)
		goto out;
	*txn = json_loadb(plain, plen, JSON_REJECT_DUPLICATES, &jerr);
	rc = json_is_object(*txn) ? NOTICE_OK : NOTICE_BAD_BODY;
	if (rc) {
		json_decref(*txn);
		*txn = NULL;
	}
out:
	if (plain)
		OPENSSL_cleanse(plain, plen);
	free(plain);
	json_decref(n);
	return rc;
}
