/* seckill-token.c - seckill tokens: HMAC-SHA256 over user, activity, session and expiry. */
#include "seckill-lib.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECKILL_MAC_HEX 64

/* Hex HMAC of the token's fields into hex (65 bytes). 0 or -1. */
static int seckill_token_mac(const char *secret, long long uid, long long aid, const char *jti,
			     long long exp, char hex[SECKILL_MAC_HEX + 1])
{
	char msg[160];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n = snprintf(msg, sizeof msg, "v1|%lld|%lld|%s|%lld", uid, aid, jti, exp);

	if (n < 0 || (size_t)n >= sizeof msg)
		return -1;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, (size_t)n,
		  md, &mdlen) ||
	    mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int seckill_token_new(const char *secret, long long uid, long long aid, const char *jti,
		      long long exp, char *out, size_t len)
{
	char mac[SECKILL_MAC_HEX + 1];
	if (seckill_token_mac(secret, uid, aid, jti, exp, mac) < 0)
		return -1;
	int n = snprintf(out, len, "%lld.%s", exp, mac);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int seckill_token_verify(const char *secret, const char *token, long long uid, long long aid,
			 const char *jti, long long now)
{
	char mac[SECKILL_MAC_HEX + 1];
	size_t digits = strspn(token, "0123456789");

	if (digits == 0 || digits > 12 || token[digits] != '.')
		return -1;
	const char *given = token + digits + 1;
	if (strlen(given) != SECKILL_MAC_HEX ||
	    strspn(given, "0123456789abcdef") != SECKILL_MAC_HEX)
		return -1;
	long long exp = strtoll(token, NULL, 10);
	if (exp <= now)
		return -1;
	if (seckill_token_mac(secret, uid, aid, jti, exp, mac) < 0)
		return -1;
	return CRYPTO_memcmp(mac, given, SECKILL_MAC_HEX) == 0 ? 0 : -1;
}
