/* auth.h - HS256 access tokens (libjwt) and their sessions in Redis. */
#ifndef FS_AUTH_H
#define FS_AUTH_H

#include "cache.h"
#include "config.h"

#define AUTH_TOKEN_MAX 2048

/* The claims of an access token (API.md, "Auth"). */
struct auth_claims {
	long long user_id;
	char role[16]; /* "user" or "admin" */
	char jti[33];  /* 128 random bits, hex */
	long long iat;
	long long exp;
};

/* Sign a new token for uid/role; *token is malloc'd. No I/O. */
int auth_token_new(const struct fs_config *cfg, long long uid, const char *role, char **token,
		   struct auth_claims *claims);

/*
 * Verify signature (HS256 only: "none" and other algorithms are refused),
 * expiry and claim types. 0 and *claims filled, or -1. No I/O.
 */
int auth_token_verify(const struct fs_config *cfg, const char *token, struct auth_claims *claims);

/* How often auth_token_verify found a token in its memo of verified ones, and did not. */
void auth_memo_counts(unsigned long *hits, unsigned long *misses);

/* Sessions a user keeps when no cap is given (auth.max_sessions is the configured one). */
#define AUTH_DEFAULT_MAX_SESSIONS 10

/* Record the token's session so it is accepted until it expires or is revoked. */
int auth_session_open(struct cache *c, const struct auth_claims *claims);

/*
 * Record a session made by refreshing parent (NULL for a login); the user's oldest
 * sessions are evicted so at most max_sessions stay live.
 */
int auth_session_open_child(struct cache *c, const struct auth_claims *claims, const char *parent,
			    long max_sessions);

/* Called with each revoked session's jti and expiry; -1 makes the revoke report failure. */
typedef int (*auth_revoked_fn)(void *arg, const char *jti, long long exp);

/* auth_session_open_child, handing each evicted session to fn (which may be NULL). */
int auth_session_open_each(struct cache *c, const struct auth_claims *claims, const char *parent,
			   long max_sessions, auth_revoked_fn fn, void *arg);

/*
 * 1 if the session is live and belongs to the token's user (claims->role is then
 * set to the session's current role), 0 if revoked or unknown, -1 if Redis is unreachable.
 */
int auth_session_check(struct cache *c, struct auth_claims *claims);

/* Revoke the token's session and its family (the login it came from and all refreshes). */
int auth_session_revoke(struct cache *c, const struct auth_claims *claims);

/* Revoke every session of a user (logout everywhere, role changes). */
int auth_session_revoke_all(struct cache *c, long long uid);

/* auth_session_revoke, handing every revoked session (the whole family) to fn. */
int auth_session_revoke_each(struct cache *c, const struct auth_claims *claims, auth_revoked_fn fn,
			     void *arg);

/* auth_session_revoke_all, handing every revoked session to fn. */
int auth_session_revoke_all_each(struct cache *c, long long uid, auth_revoked_fn fn, void *arg);

/* Strip an optional "Bearer " prefix from an Authorization header value. */
const char *auth_bearer(const char *header);

#endif
