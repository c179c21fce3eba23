/* altcha.c - ALTCHA proof-of-work challenges: SHA-256 over salt and number, HMAC-signed. */
#include "altcha.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALTCHA_ALGORITHM "SHA-256"
#define ALTCHA_MAX_SALT  200
#define ALTCHA_SALT_HEX  24

/* Lower-case hex of n bytes into out (2n+1 bytes). */
static void altcha_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

/* hex SHA-256 of salt followed by the decimal number. 0 or -1. */
static int altcha_hash(const char *salt, long long number, char out[ALTCHA_CHALLENGE_HEX + 1])
{
	char msg[ALTCHA_MAX_SALT + 24];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n = snprintf(msg, sizeof msg, "%s%lld", salt, number);
	if (n < 0 || (size_t)n >= sizeof msg)
		return -1;
	if (!EVP_Digest(msg, (size_t)n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -1;
	altcha_hex(md, 32, out);
	return 0;
}

/* hex HMAC-SHA256(key, challenge). 0 or -1. */
static int altcha_sign(const char *key, const char *challenge, char out[ALTCHA_CHALLENGE_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)challenge,
		  strlen(challenge), md, &mdlen) ||
	    mdlen != 32)
		return -1;
	altcha_hex(md, 32, out);
	return 0;
}

json_t *altcha_challenge_new(const char *key, long long aid, long long maxnumber, long long expires)
{
	unsigned char rnd[ALTCHA_SALT_HEX / 2];
	char rhex[ALTCHA_SALT_HEX + 1], salt[ALTCHA_MAX_SALT], challenge[ALTCHA_CHALLENGE_HEX + 1],
	    signature[ALTCHA_CHALLENGE_HEX + 1];

	randombytes_buf(rnd, sizeof rnd);
	altcha_hex(rnd, sizeof rnd, rhex);
	/* The trailing '&' stops a solver from splicing parameters onto the salt. */
	snprintf(salt, sizeof salt, "%s?expires=%lld&a=%lld&", rhex, expires, aid);
	long long number = (long long)randombytes_uniform((uint32_t)maxnumber + 1);
	if (altcha_hash(salt, number, challenge) < 0 || altcha_sign(key, challenge, signature) < 0)
		return NULL;
	return json_pack("{s:s,s:s,s:I,s:s,s:s}", "algorithm", ALTCHA_ALGORITHM, "challenge",
			 challenge, "maxnumber", (json_int_t)maxnumber, "salt", salt, "signature",
			 signature);
}

/* The value of parameter name in the salt's query part as a number, or -1. */
static long long altcha_salt_param(const char *salt, const char *name)
{
	const char *q = strchr(salt, '?');
	size_t nlen = strlen(name);
	for (const char *p = q; p && *p; p = strchr(p, '&')) {
		p++;
		if (!strncmp(p, name, nlen) && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t digits = strspn(v, "0123456789");
			if (digits == 0 || digits > 15 || (v[digits] && v[digits] != '&'))
				return -1;
			return strtoll(v, NULL, 10);
		}
	}
	return -1;
}

/* A string member of length at most max, or NULL. */
static const char *altcha_field(json_t *o, const char *name, size_t max)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_string(v) || json_string_length(v) > max)
		return NULL;
	return json_string_value(v);
}

/* Is s exactly 64 lower-case hex digits? */
static int altcha_is_hex64(const char *s)
{
	return s && strlen(s) == ALTCHA_CHALLENGE_HEX &&
	       strspn(s, "0123456789abcdef") == ALTCHA_CHALLENGE_HEX;
}

enum altcha_rc altcha_verify(const char *key, const char *payload, long long aid, long long now,
			     char challenge_hex[ALTCHA_CHALLENGE_HEX + 1], long long *expires)
{
	unsigned char raw[ALTCHA_MAX_PAYLOAD];
	size_t rawlen = 0;
	char want[ALTCHA_CHALLENGE_HEX + 1];
	enum altcha_rc rc = ALTCHA_MALFORMED;
	json_t *o = NULL;

	if (!payload || strlen(payload) > ALTCHA_MAX_PAYLOAD ||
	    sodium_base642bin(raw, sizeof raw, payload, strlen(payload), NULL, &rawlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		goto out;
	o = json_loadb((const char *)raw, rawlen, 0, NULL);
	const char *alg = altcha_field(o, "algorithm", 16);
	const char *challenge = altcha_field(o, "challenge", ALTCHA_CHALLENGE_HEX);
	const char *salt = altcha_field(o, "salt", ALTCHA_MAX_SALT - 1);
	const char *signature = altcha_field(o, "signature", ALTCHA_CHALLENGE_HEX);
	json_t *number = json_object_get(o, "number");
	if (!json_is_object(o) || !alg || strcmp(alg, ALTCHA_ALGORITHM) || !salt ||
	    !altcha_is_hex64(challenge) || !altcha_is_hex64(signature) ||
	    !json_is_integer(number) || json_integer_value(number) < 0)
		goto out;
	rc = ALTCHA_WRONG;
	if (altcha_hash(salt, (long long)json_integer_value(number), want) < 0 ||
	    CRYPTO_memcmp(want, challenge, ALTCHA_CHALLENGE_HEX) != 0)
		goto out;
	if (altcha_sign(key, challenge, want) < 0 ||
	    CRYPTO_memcmp(want, signature, ALTCHA_CHALLENGE_HEX) != 0)
		goto out;
	/* Signed by us: the salt's parameters are ours too. */
	long long exp = altcha_salt_param(salt, "expires");
	if (exp < 0 || exp <= now) {
		rc = ALTCHA_EXPIRED;
		goto out;
	}
	if (altcha_salt_param(salt, "a") != aid) {
		rc = ALTCHA_OTHER_ACTIVITY;
		goto out;
	}
	memcpy(challenge_hex, challenge, ALTCHA_CHALLENGE_HEX + 1);
	*expires = exp;
	rc = ALTCHA_OK;
out:
	json_decref(o);
	return rc;
}

const char *altcha_reason(enum altcha_rc rc)
{
	switch (rc) {
	case ALTCHA_OK: return "ok";
	case ALTCHA_MALFORMED: return "challenge solution malformed";
	case ALTCHA_WRONG: return "challenge solution wrong";
	case ALTCHA_EXPIRED: return "challenge expired";
	case ALTCHA_OTHER_ACTIVITY: return "challenge is for another activity";
	}
	return "challenge invalid";
}
