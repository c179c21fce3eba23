/* auth.c - JWT issue/verify with libjwt 1.x; sessions in one Redis hash per user. */
#include "auth.h"

#include <errno.h>
#include <jwt.h>
#include <pthread.h>
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

/*
 * Tokens this process verified lately. A crowd retrying /seckill/do sends the same token many
 * times a second, and libjwt's decode (base64, JSON, an HMAC fetched from OpenSSL each time) is
 * a sixth of the purchase's CPU in the program. A slot holds a keyed BLAKE2b-256 of secret and
 * token (so a hit is the very token verified under the very secret) and the claims; a hit only
 * rechecks the expiry. Sets of AUTH_MEMO_WAYS slots, striped locks: the process's threads share
 * it. Direct-mapped, 2,000 users cycling through 8,192 slots missed 23 % of the time (two tokens
 * on one slot evict each other on every pass); in sets of 8, a set must draw 9 of them.
 */
#define AUTH_MEMO_SLOTS 8192
#define AUTH_MEMO_WAYS  8
#define AUTH_MEMO_SETS  (AUTH_MEMO_SLOTS / AUTH_MEMO_WAYS)
#define AUTH_MEMO_LOCKS 64

struct auth_memo_slot {
	unsigned char hash[crypto_generichash_BYTES];
	struct auth_claims claims; /* user_id 0: an empty slot */
};

static struct auth_memo_slot *auth_memo;
static pthread_mutex_t auth_memo_locks[AUTH_MEMO_LOCKS];
static pthread_once_t auth_memo_once = PTHREAD_ONCE_INIT;
static unsigned long auth_memo_hits, auth_memo_misses; /* atomics */

/* Allocate the memo and its locks (once; without memory there is simply no memo). */
static void auth_memo_init(void)
{
	for (int i = 0; i < AUTH_MEMO_LOCKS; i++)
		pthread_mutex_init(&auth_memo_locks[i], NULL);
	auth_memo = calloc(AUTH_MEMO_SLOTS, sizeof *auth_memo);
}

/* The memo's hash of token under secret, and its set's first slot. */
static size_t auth_memo_hash(const char *secret, const char *token, unsigned char *h)
{
	crypto_generichash_state st;
	size_t set;
	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)secret, strlen(secret) + 1);
	crypto_generichash_update(&st, (const unsigned char *)token, strlen(token));
	crypto_generichash_final(&st, h, crypto_generichash_BYTES);
	memcpy(&set, h, sizeof set);
	return set % AUTH_MEMO_SETS * AUTH_MEMO_WAYS;
}

/* The lock of the set whose first slot is first. */
static pthread_mutex_t *auth_memo_lock(size_t first)
{
	return &auth_memo_locks[first / AUTH_MEMO_WAYS % AUTH_MEMO_LOCKS];
}

/* 1 and *claims filled when the memo holds token, unexpired; 0 otherwise. */
static int auth_memo_get(size_t first, const unsigned char *h, struct auth_claims *claims)
{
	int hit = 0;
	if (!auth_memo)
		return 0;
	pthread_mutex_lock(auth_memo_lock(first));
	for (size_t i = first; i < first + AUTH_MEMO_WAYS && !hit; i++)
		if (!memcmp(auth_memo[i].hash, h, crypto_generichash_BYTES)) {
			*claims = auth_memo[i].claims;
			hit = 1;
		}
	pthread_mutex_unlock(auth_memo_lock(first));
	__atomic_add_fetch(hit ? &auth_memo_hits : &auth_memo_misses, 1, __ATOMIC_RELAXED);
	return hit && claims->exp > (long long)time(NULL);
}

/* Remember a verified token's claims: in its own slot, an empty one, or over one of the set
 * picked by the hash (random replacement: no state to keep per set). */
static void auth_memo_put(size_t first, const unsigned char *h, const struct auth_claims *claims)
{
	size_t at = first + h[sizeof(size_t)] % AUTH_MEMO_WAYS;
	if (!auth_memo)
		return;
	pthread_mutex_lock(auth_memo_lock(first));
	for (size_t i = first; i < first + AUTH_MEMO_WAYS; i++)
		if (!memcmp(auth_memo[i].hash, h, crypto_generichash_BYTES) ||
		    auth_memo[i].claims.user_id == 0) {
			at = i;
			break;
		}
	memcpy(auth_memo[at].hash, h, crypto_generichash_BYTES);
	auth_memo[at].claims = *claims;
	pthread_mutex_unlock(auth_memo_lock(first));
}

void auth_memo_counts(unsigned long *hits, unsigned long *misses)
{
	*hits = __atomic_load_n(&auth_memo_hits, __ATOMIC_RELAXED);
	*misses = __atomic_load_n(&auth_memo_misses, __ATOMIC_RELAXED);
}

/* The signature, algorithm and claims checks, by libjwt. 0 and *claims filled, or -1. */
static int auth_token_decode(const struct fs_config *cfg, const char *token,
			     struct auth_claims *claims)
{
	jwt_t *jwt = NULL;
	int rc = -1;

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

int auth_token_verify(const struct fs_config *cfg, const char *token, struct auth_claims *claims)
{
	unsigned char h[crypto_generichash_BYTES];

	memset(claims, 0, sizeof *claims);
	if (!token || !*token || strlen(token) > AUTH_TOKEN_MAX)
		return -1;
	pthread_once(&auth_memo_once, auth_memo_init);
	size_t first = auth_memo_hash(cfg->jwt_secret, token, h);
	if (auth_memo_get(first, h, claims))
		return 0;
	if (auth_token_decode(cfg, token, claims) < 0) {
		memset(claims, 0, sizeof *claims);
		return -1;
	}
	auth_memo_put(first, h, claims);
	return 0;
}

/*
 * Sessions live in one Redis hash per user, fs:usess:<uid>: field jti, value
 * "<uid> <role> <iat> <exp> <family>", where family is the jti of the login the
 * session was refreshed from (its own for a login). One key per user keeps every
 * operation on one key (one Cluster slot), bounds the sessions a user can hold
 * (the oldest are evicted past auth.max_sessions), lets "log out everywhere" be
 * one DEL, and carries the role as it is now (role changes revoke the hash).
 */

/*
 * Open: drop expired fields, evict the oldest past the cap, add the new one to its family.
 * Answers the evicted sessions as jti, exp pairs (as the revoke scripts do).
 */
static struct cache_script auth_open_script = {
    .src =
	"local key, now, cap, exp = KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4]), "
	"tonumber(ARGV[5])\n"
	"local family = ARGV[1]\n"
	"if ARGV[6] ~= '' then\n"
	"  local pv = redis.call('HGET', key, ARGV[6])\n"
	"  local f = pv and string.match(pv, ' (%S+)$')\n"
	"  if f and f ~= '-' then family = f else family = ARGV[6] end\n"
	"end\n"
	"local all = redis.call('HGETALL', key)\n"
	"local live, maxexp = {}, exp\n"
	"for i = 1, #all, 2 do\n"
	"  local iat, e = string.match(all[i + 1], '^%d+ %S+ (%d+) (%d+)')\n"
	"  e = tonumber(e or 0)\n"
	"  if e <= now then redis.call('HDEL', key, all[i])\n"
	"  else live[#live + 1] = {all[i], tonumber(iat)}; if e > maxexp then maxexp = e end end\n"
	"end\n"
	"table.sort(live, function(a, b) return a[2] < b[2] end)\n"
	"local n, out = 0, {}\n"
	"while #live - n >= cap do\n"
	"  n = n + 1\n"
	"  local v = redis.call('HGET', key, live[n][1])\n"
	"  redis.call('HDEL', key, live[n][1])\n"
	"  out[#out + 1] = live[n][1]\n"
	"  out[#out + 1] = string.match(v or '', '^%d+ %S+ %d+ (%d+)') or '0'\n"
	"end\n"
	"redis.call('HSET', key, ARGV[1], ARGV[2] .. ' ' .. family)\n"
	"redis.call('EXPIREAT', key, maxexp)\n"
	"return out\n",
};

/*
 * Revoke a session with its whole family: the login it was refreshed from and every
 * session refreshed from that login (a client may refresh just before logging out).
 */
static struct cache_script auth_revoke_script = {
    .src = "local v = redis.call('HGET', KEYS[1], ARGV[1])\n"
	   "if not v then return {} end\n"
	   "local fam = string.match(v, ' (%S+)$')\n"
	   "if not fam or fam == '-' then fam = ARGV[1] end\n"
	   "local all = redis.call('HGETALL', KEYS[1])\n"
	   "local out = {}\n"
	   "for i = 1, #all, 2 do\n"
	   "  local f = string.match(all[i + 1], ' (%S+)$')\n"
	   "  if all[i] == ARGV[1] or all[i] == fam or f == fam then\n"
	   "    redis.call('HDEL', KEYS[1], all[i])\n"
	   "    out[#out + 1] = all[i]\n"
	   "    out[#out + 1] = string.match(all[i + 1], '^%d+ %S+ %d+ (%d+)') or '0'\n"
	   "  end\n"
	   "end\n"
	   "return out\n",
};

/* Revoke every session of a user: the jti and exp of each, then the hash is gone. */
static struct cache_script auth_revoke_all_script = {
    .src = "local all = redis.call('HGETALL', KEYS[1])\n"
	   "local out = {}\n"
	   "for i = 1, #all, 2 do\n"
	   "  out[#out + 1] = all[i]\n"
	   "  out[#out + 1] = string.match(all[i + 1], '^%d+ %S+ %d+ (%d+)') or '0'\n"
	   "end\n"
	   "redis.call('DEL', KEYS[1])\n"
	   "return out\n",
};

/* The per-user session hash key. */
static void auth_session_key(long long uid, char *key, size_t len)
{
	snprintf(key, len, "fs:usess:%lld", uid);
}

/* Run a revoke script; hand each revoked (jti, exp) pair it answers to fn. */
static int auth_revoke_run(struct cache *c, struct cache_script *script, int argc,
			   const char **argv, auth_revoked_fn fn, void *arg);

int auth_session_open_each(struct cache *c, const struct auth_claims *claims, const char *parent,
			   long max_sessions, auth_revoked_fn fn, void *arg)
{
	long long now = (long long)time(NULL);
	if (claims->exp <= now)
		return -1;
	char key[48], value[128], snow[24], scap[24], sexp[24];
	auth_session_key(claims->user_id, key, sizeof key);
	snprintf(value, sizeof value, "%lld %s %lld %lld", claims->user_id, claims->role,
		 claims->iat, claims->exp);
	snprintf(snow, sizeof snow, "%lld", now);
	snprintf(scap, sizeof scap, "%ld", max_sessions > 0 ? max_sessions : 1);
	snprintf(sexp, sizeof sexp, "%lld", claims->exp);
	const char *argv[] = {key, claims->jti, value, snow, scap, sexp, parent ? parent : ""};
	return auth_revoke_run(c, &auth_open_script, 7, argv, fn, arg);
}

int auth_session_open_child(struct cache *c, const struct auth_claims *claims, const char *parent,
			    long max_sessions)
{
	return auth_session_open_each(c, claims, parent, max_sessions, NULL, NULL);
}

int auth_session_open(struct cache *c, const struct auth_claims *claims)
{
	return auth_session_open_child(c, claims, NULL, AUTH_DEFAULT_MAX_SESSIONS);
}

int auth_session_check(struct cache *c, struct auth_claims *claims)
{
	char key[48];
	auth_session_key(claims->user_id, key, sizeof key);
	redisReply *r = cache_command(c, "HGET %s %s", key, claims->jti);
	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
		if (r)
			freeReplyObject(r);
		return -1;
	}
	int live = 0;
	long long uid = 0, iat = 0, exp = 0;
	char role[16];
	/* The stored user id must be the token's, and the role is taken from the session. */
	if (r->type == REDIS_REPLY_STRING &&
	    sscanf(r->str, "%lld %15s %lld %lld", &uid, role, &iat, &exp) == 4 &&
	    uid == claims->user_id && exp > (long long)time(NULL) &&
	    (!strcmp(role, "user") || !strcmp(role, "admin"))) {
		snprintf(claims->role, sizeof claims->role, "%s", role);
		live = 1;
	}
	freeReplyObject(r);
	return live;
}

/* Run a revoke script; hand each revoked (jti, exp) pair it answers to fn. */
static int auth_revoke_run(struct cache *c, struct cache_script *script, int argc,
			   const char **argv, auth_revoked_fn fn, void *arg)
{
	redisReply *r = cache_eval(c, script, 1, argc, argv);
	int rc = r && r->type == REDIS_REPLY_ARRAY ? 0 : -1;
	for (size_t i = 0; !rc && i + 1 < r->elements; i += 2) {
		redisReply *j = r->element[i], *e = r->element[i + 1];
		if (j->type != REDIS_REPLY_STRING || e->type != REDIS_REPLY_STRING)
			continue;
		if (fn && fn(arg, j->str, strtoll(e->str, NULL, 10)) < 0)
			rc = -1;
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

int auth_session_revoke_each(struct cache *c, const struct auth_claims *claims, auth_revoked_fn fn,
			     void *arg)
{
	char key[48];
	auth_session_key(claims->user_id, key, sizeof key);
	const char *argv[] = {key, claims->jti};
	return auth_revoke_run(c, &auth_revoke_script, 2, argv, fn, arg);
}

int auth_session_revoke(struct cache *c, const struct auth_claims *claims)
{
	return auth_session_revoke_each(c, claims, NULL, NULL);
}

int auth_session_revoke_all_each(struct cache *c, long long uid, auth_revoked_fn fn, void *arg)
{
	char key[48];
	auth_session_key(uid, key, sizeof key);
	const char *argv[] = {key};
	return auth_revoke_run(c, &auth_revoke_all_script, 1, argv, fn, arg);
}

int auth_session_revoke_all(struct cache *c, long long uid)
{
	return auth_session_revoke_all_each(c, uid, NULL, NULL);
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
