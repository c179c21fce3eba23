/* wxpay-impl.h - the WeChat Pay client's state, shared by wxpay.c and wxpay-api.c only. */
#ifndef FS_WXPAY_IMPL_H
#define FS_WXPAY_IMPL_H

#include <curl/curl.h>

#include "wxpay.h"

/* A configured merchant: its keys, ids and a reusable curl handle. */
struct wxpay {
	char *api_base;
	char *mchid;
	char *appid;
	char *serial_no;
	char *platform_serial;
	char *notify_url;
	char apiv3_key[WXPAY_APIV3_KEY_LEN + 1];
	EVP_PKEY *merchant_key; /* signs our requests and JSAPI paySign */
	EVP_PKEY *platform_key; /* verifies answers and notifications */
	long timeout_ms;
	long skew;
	CURL *curl;
};

/* A random nonce of 32 alphanumeric characters. */
void wxpay_nonce(char out[33]);

#endif
