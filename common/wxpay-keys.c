/* wxpay-keys.c - WeChat Pay platform keys: bare public keys and platform certificates, by serial.
 *
 * As the official SDKs do, every key that may sign an answer or a notification is kept under
 * the serial WeChat names it by in Wechatpay-Serial: a bare platform public key under its
 * PUB_KEY_ID_... serial (given in the config), a platform certificate under the serial number
 * in the certificate (upper-case hex). Several are valid at once while WeChat rotates them.
 */
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wxpay-impl.h"

/* Longest platform_keys value we read. */
#define WXPAY_KEYS_MAX 4096

EVP_PKEY *wxpay_platform_find(struct wxpay *w, const char *serial)
{
	for (int i = 0; serial && i < w->nplatform; i++)
		if (!strcmp(w->platform[i].serial, serial))
			return w->platform[i].key;
	return NULL;
}

/* Add a key under serial (the key is taken); -1 with err if full, a duplicate or too long. */
static int wxpay_platform_add(struct wxpay *w, const char *serial, EVP_PKEY *key, char *err,
			      size_t errlen)
{
	if (!*serial || strlen(serial) > WXPAY_SERIAL_MAX ||
	    w->nplatform >= WXPAY_MAX_PLATFORM_KEYS || wxpay_platform_find(w, serial)) {
		snprintf(err, errlen,
			 "wxpay: platform key serial \"%.64s\" empty, too long, repeated "
			 "or one too many",
			 serial);
		EVP_PKEY_free(key);
		return -1;
	}
	snprintf(w->platform[w->nplatform].serial, sizeof w->platform[0].serial, "%s", serial);
	w->platform[w->nplatform++].key = key;
	return 0;
}

/* Read a PEM platform certificate: its RSA public key, and its serial as upper-case hex. */
static EVP_PKEY *wxpay_cert_load(const char *path, char *serial, size_t len)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;

	if (f)
		fclose(f);
	if (!x)
		return NULL;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex && strlen(hex) < len) {
		snprintf(serial, len, "%s", hex);
		key = X509_get_pubkey(x);
		if (key && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
			EVP_PKEY_free(key);
			key = NULL;
		}
	}
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	return key;
}

/* Is the file at path a PEM certificate? */
static int wxpay_is_cert(const char *path)
{
	char head[8192];
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(head, 1, sizeof head - 1, f);
	fclose(f);
	head[n] = 0;
	return strstr(head, "-----BEGIN CERTIFICATE-----") != NULL;
}

/* One platform_keys entry: "CERT.pem" or "SERIAL=PATH" (PATH a public key or a certificate). */
static int wxpay_platform_entry(struct wxpay *w, char *entry, char *err, size_t errlen)
{
	char cert_serial[WXPAY_SERIAL_MAX + 8] = "";
	char *eq = strchr(entry, '=');
	const char *path = eq ? eq + 1 : entry;
	EVP_PKEY *key = NULL;

	if (eq)
		*eq = 0;
	if (wxpay_is_cert(path))
		key = wxpay_cert_load(path, cert_serial, sizeof cert_serial);
	else if (eq)
		key = wxpay_key_load(path, 0);
	if (!key) {
		snprintf(err, errlen,
			 "wxpay.platform_keys: cannot load %s from %.200s (a certificate, or "
			 "SERIAL=PATH for a public key)",
			 eq ? "an RSA public key or certificate" : "a platform certificate", path);
		return -1;
	}
	return wxpay_platform_add(w, eq ? entry : cert_serial, key, err, errlen);
}

int wxpay_platform_load(struct wxpay *w, const struct fs_config *cfg, char *err, size_t errlen)
{
	const char *one = cfg->wxpay_platform_key, *serial = cfg->wxpay_platform_serial;
	const char *list = cfg->wxpay_platform_keys ? cfg->wxpay_platform_keys : "";
	char buf[WXPAY_KEYS_MAX], *save = NULL;

	if (one && *one) {
		if (!serial || !*serial) {
			snprintf(err, errlen, "wxpay.platform_serial is not set");
			return -1;
		}
		EVP_PKEY *key = wxpay_key_load(one, 0);
		if (!key) {
			snprintf(err, errlen,
				 "wxpay.platform_key: cannot load an RSA public key from %s", one);
			return -1;
		}
		if (wxpay_platform_add(w, serial, key, err, errlen) < 0)
			return -1;
	}
	if (strlen(list) >= sizeof buf) {
		snprintf(err, errlen, "wxpay.platform_keys is too long");
		return -1;
	}
	snprintf(buf, sizeof buf, "%s", list);
	for (char *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
		while (*e == ' ' || *e == '\t')
			e++;
		char *end = e + strlen(e);
		while (end > e && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = 0;
		if (*e && wxpay_platform_entry(w, e, err, errlen) < 0)
			return -1;
	}
	if (w->nplatform == 0) {
		snprintf(err, errlen, "wxpay.platform_key is not set (nor platform_keys)");
		return -1;
	}
	return 0;
}
