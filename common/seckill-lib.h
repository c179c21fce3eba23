/* seckill-lib.h - seckill tokens (HMAC, verified without I/O) and their revocation at logout. */
#ifndef FS_SECKILL_LIB_H
#define FS_SECKILL_LIB_H

#include <stddef.h>

#include "cache.h"

#define SECKILL_TOKEN_MAX 96 /* "<expiry>.<64 hex>" and its NUL */

/*
 * Sign a token for user uid, activity aid and access-token jti, valid until exp
 * (Unix seconds): "<exp>.<hex HMAC-SHA256(secret, "v1|uid|aid|jti|exp")>".
 * 0, or -1 if out is too small.
 */
int seckill_token_new(const char *secret, long long uid, long long aid, const char *jti,
		      long long exp, char *out, size_t len);

/* 0 if token was signed for uid, aid and jti and has not expired at now; -1 otherwise. */
int seckill_token_verify(const char *secret, const char *token, long long uid, long long aid,
			 const char *jti, long long now);

/*
 * At logout: the access token's jti (valid until exp) may no longer buy in any live activity
 * (seckill-revoke.c). 0, or -1 if Redis did not take it everywhere (the caller answers 100005).
 */
int seckill_revoke_jti(struct cache *c, const char *jti, long long exp);

#endif
