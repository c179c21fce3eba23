/* sms.c - the SMS gateway's HTTP API over libcurl (short timeout, bounded answer). */
#include "sms.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynbuf.h"

#define SMS_MAX_RESPONSE 4096

/* curl write callback: keep up to SMS_MAX_RESPONSE bytes (the dynbuf's max), abort past it. */
static size_t sms_on_body(char *p, size_t size, size_t n, void *ud)
{
	return dynbuf_add(ud, p, size * n) == 0 ? size * n : 0;
}

/* Hex HMAC-SHA256 of "ts\nnonce\nbody" under the access secret. */
static void sms_sign(const char *secret, const char *ts, const char *nonce, const char *body,
		     char out[65])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)nonce, strlen(nonce));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof mac);
}

int sms_send_code(const struct fs_config *cfg, const char *mobile, const char *code, char *err,
		  size_t errlen)
{
	struct dynbuf buf; /* one per call, any thread */
	char ts[24], nonce[33], sig[65], hdr[4][160];
	unsigned char rnd[16];
	struct curl_slist *h = NULL;
	json_t *param = NULL, *req = NULL, *v = NULL;
	char *pstr = NULL, *body = NULL;
	long status = 0;
	int rc = SMS_UNREACHABLE;

	snprintf(err, errlen, "SMS gateway unreachable");
	if (!cfg->sms_gateway_url[0]) {
		snprintf(err, errlen, "no SMS gateway configured");
		return SMS_NOCONFIG;
	}
	dynbuf_init(&buf, SMS_MAX_RESPONSE);
	param = json_pack("{s:s}", "code", code);
	pstr = param ? json_dumps(param, JSON_COMPACT) : NULL;
	req = pstr ? json_pack("{s:s,s:s,s:s,s:s}", "PhoneNumbers", mobile, "SignName",
			       cfg->sms_sign_name, "TemplateCode", cfg->sms_template,
			       "TemplateParam", pstr)
		   : NULL;
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	CURL *c = body ? curl_easy_init() : NULL;
	if (!c)
		goto out;
	snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(nonce, sizeof nonce, rnd, sizeof rnd);
	sms_sign(cfg->sms_access_secret, ts, nonce, body, sig);
	snprintf(hdr[0], sizeof hdr[0], "X-Sms-Key: %.100s", cfg->sms_access_key);
	snprintf(hdr[1], sizeof hdr[1], "X-Sms-Timestamp: %s", ts);
	snprintf(hdr[2], sizeof hdr[2], "X-Sms-Nonce: %s", nonce);
	snprintf(hdr[3], sizeof hdr[3], "X-Sms-Signature: %s", sig);
	h = curl_slist_append(h, "Content-Type: application/json");
	for (int i = 0; i < 4; i++)
		h = curl_slist_append(h, hdr[i]);
	curl_easy_setopt(c, CURLOPT_URL, cfg->sms_gateway_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->sms_timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 cfg->sms_timeout_ms < 1000 ? cfg->sms_timeout_ms : 1000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sms_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "SMS gateway unreachable: %s", curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	v = json_loadb(dynbuf_ptr(&buf), dynbuf_len(&buf), 0, NULL);
	const char *code_s = json_string_value(json_object_get(v, "Code"));
	const char *msg = json_string_value(json_object_get(v, "Message"));
	if (status == 200 && code_s && !strcmp(code_s, "OK")) {
		rc = SMS_OK;
	} else if (code_s) {
		snprintf(err, errlen, "SMS gateway refused: %.64s %.120s", code_s, msg ? msg : "");
		rc = SMS_REJECTED;
	} else {
		snprintf(err, errlen, "SMS gateway answered HTTP %ld", status);
	}
out:
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (body)
		sodium_memzero(body, strlen(body));
	free(body);
	free(pstr);
	dynbuf_free(&buf);
	json_decref(v);
	json_decref(req);
	json_decref(param);
	return rc;
}
