/* altcha.h - proof-of-work challenges in the ALTCHA format, made and verified with no I/O. */
#ifndef FS_ALTCHA_H
#define FS_ALTCHA_H

#include <jansson.h>

/*
 * The format (altcha-lib's v1, which the altcha widget 2.x solves):
 *   salt      = <24 hex>?expires=<unix>&a=<activity id>&
 *   challenge = hex SHA-256(salt + decimal number), number random in [0, maxnumber]
 *   signature = hex HMAC-SHA256(key, challenge)
 * The widget submits base64(JSON {algorithm, challenge, number, salt, signature, ...}).
 * The expiry and the activity ride in the salt, so the signature covers them.
 */

#define ALTCHA_MAX_PAYLOAD   1024 /* base64 characters accepted from a client */
#define ALTCHA_CHALLENGE_HEX 64

/* What a verification found. */
enum altcha_rc {
	ALTCHA_OK = 0,
	ALTCHA_MALFORMED,      /* not base64 JSON of the expected shape */
	ALTCHA_WRONG,          /* number, challenge or signature does not match */
	ALTCHA_EXPIRED,        /* the salt's expiry has passed */
	ALTCHA_OTHER_ACTIVITY, /* solved for another activity */
};

/* A new challenge object for activity aid, or NULL (out of memory). */
json_t *altcha_challenge_new(const char *key, long long aid, long long maxnumber,
			     long long expires);

/*
 * Verify a client's payload for activity aid at time now. On ALTCHA_OK the solved
 * challenge's hex (the single-use mark's name) is in challenge_hex and its expiry in
 * *expires.
 */
enum altcha_rc altcha_verify(const char *key, const char *payload, long long aid, long long now,
			     char challenge_hex[ALTCHA_CHALLENGE_HEX + 1], long long *expires);

/* A short reason for a verification result, for the API's msg. */
const char *altcha_reason(enum altcha_rc rc);

#endif
