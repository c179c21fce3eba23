/* seckill-token.c - seckill tokens: HMAC-SHA256 over user, activity, session and expiry. */
#include "seckill-lib.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECKILL_MAC_HEX 64

/*
 * Hex HMAC of the token's fields into hex (65 bytes). 0 or -1. libsodium's HMAC-SHA256 (the same
 * bytes as OpenSSL's HMAC(), which fetches its algorithm anew on each call: a tenth of the
 * purchase's CPU in the program).
 */
static int seckill_token_mac(const char *secret, long long uid, long long aid, const char *jti,
			     long long exp, char hex[SECKILL_MAC_HEX + 1])
{
	char msg[160];
	unsigned char md[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	int n = snprintf(msg, sizeof msg, "v1|%lld|%lld|%s|%lld", uid, aid, jti, exp);

	if (n < 0 || (size_t)n >= sizeof msg)
		return -1;
	if (crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret)) ||
	    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, (size_t)n) ||
	    crypto_auth_hmacsha256_final(&st, md))
		return -1;
	sodium_bin2hex(hex, SECKILL_MAC_HEX + 1, md, sizeof md);
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
	return sodium_memcmp(mac, given, SECKILL_MAC_HEX) == 0 ? 0 : -1;
}
