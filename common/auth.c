/* auth.c - JWT issue/verify with libjwt 1.x; sessions are Redis keys fs:sess:<jti>. */
#include "auth.h"

#include <errno.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int auth_token_new(const struct fs_config *cfg, long long uid, const char *role, char **token,
		   struct auth_claims *claims)
{
	jwt_t *jwt = NULL;
	unsigned char rnd[16];
	int rc = -1;

	memset(claims, 0, sizeof *claims);
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(claims->jti, sizeof claims->jti, rnd, sizeof rnd);
	claims->user_id = uid;
	snprintf(claims->role, sizeof claims->role, "%s", role);
	claims->iat = (long long)time(NULL);
	claims->exp = claims->iat + cfg->access_expire;

	if (jwt_new(&jwt))
		goto fail;
	if (jwt_add_grant_int(jwt, "jwtUserId", uid) || jwt_add_grant(jwt, "role", claims->role) ||
	    jwt_add_grant(jwt, "jti", claims->jti) || jwt_add_grant_int(jwt, "iat", claims->iat) ||
	    jwt_add_grant_int(jwt, "exp", claims->exp))
		goto fail;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)cfg->jwt_secret,
			(int)strlen(cfg->jwt_secret)))
		goto fail;
	*token = jwt_encode_str(jwt);
	if (*token)
		rc = 0;
fail:
	jwt_free(jwt);
	return rc;
}

int auth_token_verify(const struct fs_config *cfg, const char *token, struct auth_claims *claims)
{
	jwt_t *jwt = NULL;
	int rc = -1;

	memset(claims, 0, sizeof *claims);
	if (!token || !*token || strlen(token) > AUTH_TOKEN_MAX)
		return -1;
	if (jwt_decode(&jwt, token, (const unsigned char *)cfg->jwt_secret,
		       (int)strlen(cfg->jwt_secret)))
		goto fail;
	/* Pin the algorithm: a token must not choose how it is checked. */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		goto fail;

	errno = 0;
	long uid = jwt_get_grant_int(jwt, "jwtUserId");
	if (errno || uid <= 0)
		goto fail;
	long exp = jwt_get_grant_int(jwt, "exp");
	if (errno || exp <= (long)time(NULL))
		goto fail;
	long iat = jwt_get_grant_int(jwt, "iat");
	if (errno)
		goto fail;
	const char *role = jwt_get_grant(jwt, "role");
	const char *jti = jwt_get_grant(jwt, "jti");
	if (!role || (strcmp(role, "user") && strcmp(role, "admin")))
		goto fail;
	if (!jti || strlen(jti) != 32 || strspn(jti, "0123456789abcdef") != 32)
		goto fail;

	claims->user_id = uid;
	claims->exp = exp;
	claims->iat = iat;
	snprintf(claims->role, sizeof claims->role, "%s", role);
	memcpy(claims->jti, jti, 33);
	rc = 0;
fail:
	jwt_free(jwt);
	return rc;
}

int auth_session_open(struct cache *c, const struct auth_claims *claims)
{
	long long ttl = claims->exp - (long long)time(NULL);
	if (ttl <= 0)
		return -1;
	redisReply *r =
	    cache_command(c, "SET fs:sess:%s %lld EX %lld", claims->jti, claims->user_id, ttl);
	int ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

int auth_session_check(struct cache *c, const struct auth_claims *claims)
{
	redisReply *r = cache_command(c, "EXISTS fs:sess:%s", claims->jti);
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		if (r)
			freeReplyObject(r);
		return -1;
	}
	int live = r->integer == 1;
	freeReplyObject(r);
	return live;
}

int auth_session_revoke(struct cache *c, const struct auth_claims *claims)
{
	redisReply *r = cache_command(c, "DEL fs:sess:%s", claims->jti);
	int ok = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

const char *auth_bearer(const char *header)
{
	if (!header)
		return NULL;
	while (*header == ' ')
		header++;
	if (!strncasecmp(header, "Bearer ", 7))
		header += 7;
	while (*header == ' ')
		header++;
	return header;
}
