/* test-auth.c - auth.h: HS256 tokens (round trip, tampering, alg none, expiry) and sessions. */
#include <check.h>
#include <signal.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "unit.h"

#define JTI "0123456789abcdef0123456789abcdef"

static struct fs_config cfg;

/* Load the test config (secret and a one-hour expiry), Redis too when available. */
static void setup(void)
{
	if (unit_env("FLASHSALE_TEST_REDIS_SOCKET"))
		unit_redis_config(&cfg, 1000);
	else
		unit_config(&cfg, "access_expire = 3600\n");
}

/* Free the test config. */
static void teardown(void)
{
	config_free(&cfg);
}

/* base64url without padding of n bytes; a new string. */
static char *b64url(const void *data, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	sodium_bin2base64(out, cap, data, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* header.payload.signature from JSON texts and a signature part; a new string. */
static char *join_token(const char *header_json, const char *payload_json, const char *sig)
{
	char *h = b64url(header_json, strlen(header_json));
	char *p = b64url(payload_json, strlen(payload_json));
	size_t len = strlen(h) + strlen(p) + strlen(sig) + 3;
	char *t = malloc(len);
	ck_assert_ptr_nonnull(t);
	snprintf(t, len, "%s.%s.%s", h, p, sig);
	free(h);
	free(p);
	return t;
}

/* A token signed by libjwt directly, with the given algorithm, key and claims; a new string. */
static char *sign_token(jwt_alg_t alg, const char *key, long uid, const char *role, const char *jti,
			long iat, long exp)
{
	jwt_t *jwt = NULL;
	ck_assert_int_eq(jwt_new(&jwt), 0);
	if (uid)
		ck_assert_int_eq(jwt_add_grant_int(jwt, "jwtUserId", uid), 0);
	if (role)
		ck_assert_int_eq(jwt_add_grant(jwt, "role", role), 0);
	if (jti)
		ck_assert_int_eq(jwt_add_grant(jwt, "jti", jti), 0);
	ck_assert_int_eq(jwt_add_grant_int(jwt, "iat", iat), 0);
	ck_assert_int_eq(jwt_add_grant_int(jwt, "exp", exp), 0);
	ck_assert_int_eq(
	    jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
	char *t = jwt_encode_str(jwt);
	ck_assert_ptr_nonnull(t);
	jwt_free(jwt);
	return t;
}

/* A token HS256-signed by libjwt over a payload given as JSON text; a new string. */
static char *sign_json(const char *payload_json)
{
	jwt_t *jwt = NULL;
	ck_assert_int_eq(jwt_new(&jwt), 0);
	ck_assert_int_eq(jwt_add_grants_json(jwt, payload_json), 0);
	ck_assert_int_eq(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)UNIT_JWT_SECRET,
				     (int)strlen(UNIT_JWT_SECRET)),
			 0);
	char *t = jwt_encode_str(jwt);
	ck_assert_ptr_nonnull(t);
	jwt_free(jwt);
	return t;
}

/* Expect auth_token_verify to refuse token and leave the claims zeroed. */
static void expect_rejected(const char *token)
{
	struct auth_claims c;
	memset(&c, 0x5a, sizeof c);
	ck_assert_msg(auth_token_verify(&cfg, token, &c) == -1, "accepted: %s",
		      token ? token : "(null)");
	ck_assert_int_eq(c.user_id, 0);
}

/* A new token verifies to the same claims, with exp = iat + access_expire. */
START_TEST(test_round_trip)
{
	char *tok = NULL;
	struct auth_claims a, b;
	time_t now = time(NULL);
	ck_assert_int_eq(auth_token_new(&cfg, 42, "user", &tok, &a), 0);
	ck_assert_ptr_nonnull(tok);
	ck_assert_int_eq(a.user_id, 42);
	ck_assert_str_eq(a.role, "user");
	ck_assert_uint_eq(strlen(a.jti), 32);
	ck_assert_uint_eq(strspn(a.jti, "0123456789abcdef"), 32);
	ck_assert(a.iat >= now - 1 && a.iat <= now + 1);
	ck_assert_int_eq(a.exp - a.iat, cfg.access_expire);
	ck_assert_int_eq(auth_token_verify(&cfg, tok, &b), 0);
	ck_assert_int_eq(b.user_id, a.user_id);
	ck_assert_str_eq(b.role, a.role);
	ck_assert_str_eq(b.jti, a.jti);
	ck_assert_int_eq(b.iat, a.iat);
	ck_assert_int_eq(b.exp, a.exp);
	free(tok);
}
END_TEST

/* Admin tokens keep their role; two tokens get different jti values. */
START_TEST(test_admin_and_jti)
{
	char *t1 = NULL, *t2 = NULL;
	struct auth_claims a, b, v;
	ck_assert_int_eq(auth_token_new(&cfg, 7, "admin", &t1, &a), 0);
	ck_assert_int_eq(auth_token_new(&cfg, 7, "admin", &t2, &b), 0);
	ck_assert_str_ne(a.jti, b.jti);
	ck_assert_int_eq(auth_token_verify(&cfg, t1, &v), 0);
	ck_assert_str_eq(v.role, "admin");
	ck_assert_int_eq(v.user_id, 7);
	free(t1);
	free(t2);
}
END_TEST

/* A token with a changed signature byte is refused. */
START_TEST(test_tampered_signature)
{
	char *tok = NULL;
	struct auth_claims a;
	ck_assert_int_eq(auth_token_new(&cfg, 42, "user", &tok, &a), 0);
	char *sig = strrchr(tok, '.');
	ck_assert_ptr_nonnull(sig);
	sig++;
	ck_assert_uint_gt(strlen(sig), 10);
	sig[0] = sig[0] == 'A' ? 'B' : 'A'; /* the first character carries 6 signature bits */
	expect_rejected(tok);
	sig[0] = '\0'; /* no signature at all */
	expect_rejected(tok);
	free(tok);
}
END_TEST

/* A token whose payload was re-encoded with another user id keeps its old signature: refused. */
START_TEST(test_tampered_payload)
{
	char *tok = NULL, payload[512];
	struct auth_claims a;
	ck_assert_int_eq(auth_token_new(&cfg, 42, "user", &tok, &a), 0);
	char *dot1 = strchr(tok, '.');
	char *dot2 = strrchr(tok, '.');
	*dot1 = '\0';
	snprintf(payload, sizeof payload,
		 "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"%s\",\"jwtUserId\":43,\"role\":\"admin\"}",
		 a.exp, a.iat, a.jti);
	char *p = b64url(payload, strlen(payload));
	size_t len = strlen(tok) + strlen(p) + strlen(dot2) + 2;
	char *forged = malloc(len);
	snprintf(forged, len, "%s.%s%s", tok, p, dot2);
	expect_rejected(forged);
	free(p);
	free(forged);
	free(tok);
}
END_TEST

/* alg "none" tokens are refused, with or without a trailing signature. */
START_TEST(test_alg_none)
{
	char payload[512];
	long now = (long)time(NULL);
	snprintf(payload, sizeof payload,
		 "{\"jwtUserId\":42,\"role\":\"user\",\"jti\":\"%s\",\"iat\":%ld,\"exp\":%ld}", JTI,
		 now, now + 600);
	char *t = join_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "");
	expect_rejected(t);
	free(t);
	t = join_token("{\"alg\":\"None\",\"typ\":\"JWT\"}", payload, "");
	expect_rejected(t);
	free(t);
	t = join_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "c2lnbmF0dXJl");
	expect_rejected(t);
	free(t);
	t = sign_token(JWT_ALG_NONE, NULL, 42, "user", JTI, now, now + 600);
	expect_rejected(t);
	free(t);
}
END_TEST

/* Tokens signed with another secret, or with HS512 and the right secret, are refused. */
START_TEST(test_other_key_or_alg)
{
	long now = (long)time(NULL);
	char *t = sign_token(JWT_ALG_HS256, "another-secret-another-secret-0123456789", 42, "user",
			     JTI, now, now + 600);
	expect_rejected(t);
	free(t);
	t = sign_token(JWT_ALG_HS512, UNIT_JWT_SECRET, 42, "user", JTI, now, now + 600);
	expect_rejected(t);
	free(t);

	struct fs_config other;
	char err[256], *tok = NULL;
	struct auth_claims a;
	ck_assert_msg(unit_config_text(&other,
				       "[auth]\njwt_secret = "
				       "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n",
				       err, sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(auth_token_new(&other, 42, "user", &tok, &a), 0);
	expect_rejected(tok);
	free(tok);
	config_free(&other);
}
END_TEST

/* A hand-signed token with the right secret passes; the same one expired does not. */
START_TEST(test_expired)
{
	struct auth_claims c;
	long now = (long)time(NULL);
	char *good =
	    sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 42, "user", JTI, now - 100, now + 600);
	ck_assert_int_eq(auth_token_verify(&cfg, good, &c), 0);
	ck_assert_int_eq(c.user_id, 42);
	ck_assert_str_eq(c.jti, JTI);
	free(good);
	char *old =
	    sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 42, "user", JTI, now - 100, now - 10);
	expect_rejected(old);
	free(old);
	char *now_exp = sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 42, "user", JTI, now - 100, now);
	expect_rejected(now_exp);
	free(now_exp);
}
END_TEST

/*
 * The verified-token memo: a token verified before answers the same claims again; the same
 * token under another secret, a tampered copy of it, or one that expired since it was
 * remembered are refused all the same.
 */
START_TEST(test_memo)
{
	struct auth_claims a, b;
	long now = (long)time(NULL);
	char *tok = sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 77, "admin", JTI, now - 10, now + 2);
	ck_assert_int_eq(auth_token_verify(&cfg, tok, &a), 0);
	ck_assert_int_eq(auth_token_verify(&cfg, tok, &b), 0); /* from the memo */
	ck_assert_int_eq(b.user_id, 77);
	ck_assert_str_eq(b.role, "admin");
	ck_assert_str_eq(b.jti, JTI);
	ck_assert_int_eq(b.exp, a.exp);
	char *secret = cfg.jwt_secret;
	cfg.jwt_secret = "another secret of at least thirty-two characters";
	expect_rejected(tok);
	cfg.jwt_secret = secret;
	char *sig = strrchr(tok, '.') + 1;
	char was = sig[0];
	sig[0] = was == 'A' ? 'B' : 'A';
	expect_rejected(tok);
	sig[0] = was;
	ck_assert_int_eq(auth_token_verify(&cfg, tok, &b), 0);
	/* Poll until its exp has passed (2 s at most): then the memo no longer vouches for it. */
	while ((long)time(NULL) < now + 2) {
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	expect_rejected(tok);
	free(tok);
}
END_TEST

/*
 * A crowd's tokens stay in the memo: 2,000 users, each verified once, then all again in the same
 * order (a crowd retrying round robin) are nearly all hits. Direct-mapped, the second pass missed
 * 23 % of the time: two tokens on one slot evicted each other on every round.
 */
START_TEST(test_memo_crowd)
{
	enum { USERS = 2000 };
	char **toks = calloc(USERS, sizeof *toks);
	struct auth_claims c;
	unsigned long h0, m0, h1, m1;
	long now = (long)time(NULL);
	ck_assert_ptr_nonnull(toks);
	for (int i = 0; i < USERS; i++) {
		toks[i] = sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 1000 + i, "user", JTI, now,
				     now + 600);
		ck_assert_int_eq(auth_token_verify(&cfg, toks[i], &c), 0);
	}
	auth_memo_counts(&h0, &m0);
	for (int i = 0; i < USERS; i++) {
		ck_assert_int_eq(auth_token_verify(&cfg, toks[i], &c), 0);
		ck_assert_int_eq(c.user_id, 1000 + i);
	}
	auth_memo_counts(&h1, &m1);
	ck_assert_uint_eq(h1 - h0 + m1 - m0, USERS);
	ck_assert_msg(m1 - m0 <= USERS / 50, "%lu of %d verified tokens missed the memo", m1 - m0,
		      USERS);
	for (int i = 0; i < USERS; i++)
		free(toks[i]);
	free(toks);
}
END_TEST

/* Roles other than "user" and "admin", and missing claims, are refused. */
START_TEST(test_bad_claims)
{
	long now = (long)time(NULL);
	const char *roles[] = {"root", "Admin", "", "user "};
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		char *t =
		    sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 42, roles[i], JTI, now, now + 600);
		expect_rejected(t);
		free(t);
	}
	char *t = sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 42, NULL, JTI, now, now + 600);
	expect_rejected(t);
	free(t);
	t = sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 0, "user", JTI, now, now + 600);
	expect_rejected(t);
	free(t);
	t = sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 42, "user", NULL, now, now + 600);
	expect_rejected(t);
	free(t);
	t = sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, 42, "user", "not-hex", now, now + 600);
	expect_rejected(t);
	free(t);
	t = sign_token(JWT_ALG_HS256, UNIT_JWT_SECRET, -5, "user", JTI, now, now + 600);
	expect_rejected(t);
	free(t);
}
END_TEST

/* A payload with the given claim values (stolen references; exp NULL omits it), signed. */
static char *sign_claims(json_t *uid, json_t *role, json_t *exp)
{
	json_t *o = json_pack("{s:o, s:o, s:s, s:I}", "jwtUserId", uid, "role", role, "jti", JTI,
			      "iat", (json_int_t)time(NULL));
	ck_assert_ptr_nonnull(o);
	if (exp)
		json_object_set_new(o, "exp", exp);
	char *p = json_dumps(o, JSON_COMPACT);
	char *t = sign_json(p);
	free(p);
	json_decref(o);
	return t;
}

/* Claims of the wrong JSON type are refused; the same payload with the right types passes. */
START_TEST(test_claim_types)
{
	struct auth_claims c;
	json_int_t later = (json_int_t)time(NULL) + 600;
	char exps[32];
	snprintf(exps, sizeof exps, "%lld", (long long)later);

	char *t = sign_claims(json_integer(42), json_string("user"), json_integer(later));
	ck_assert_int_eq(auth_token_verify(&cfg, t, &c), 0);
	ck_assert_int_eq(c.user_id, 42);
	free(t);
	t = sign_claims(json_string("42"), json_string("user"), json_integer(later));
	expect_rejected(t);
	free(t);
	t = sign_claims(json_real(42.5), json_string("user"), json_integer(later));
	expect_rejected(t);
	free(t);
	t = sign_claims(json_integer(42), json_string("user"), json_string(exps));
	expect_rejected(t);
	free(t);
	t = sign_claims(json_integer(42), json_pack("[s]", "user"), json_integer(later));
	expect_rejected(t);
	free(t);
	t = sign_claims(json_integer(42), json_string("user"), NULL);
	expect_rejected(t);
	free(t);
}
END_TEST

/* Garbage, empty, NULL and oversized tokens are refused. */
START_TEST(test_garbage)
{
	expect_rejected(NULL);
	expect_rejected("");
	expect_rejected("abc");
	expect_rejected("a.b.c");
	expect_rejected("..");
	char *big = malloc(AUTH_TOKEN_MAX + 100);
	memset(big, 'a', AUTH_TOKEN_MAX + 99);
	big[AUTH_TOKEN_MAX + 99] = '\0';
	expect_rejected(big);
	free(big);
}
END_TEST

/* auth_bearer strips an optional, case-insensitive "Bearer " prefix. */
START_TEST(test_bearer)
{
	ck_assert_str_eq(auth_bearer("Bearer abc.def.ghi"), "abc.def.ghi");
	ck_assert_str_eq(auth_bearer("bearer abc"), "abc");
	ck_assert_str_eq(auth_bearer("BEARER abc"), "abc");
	ck_assert_str_eq(auth_bearer("abc.def.ghi"), "abc.def.ghi");
	ck_assert_str_eq(auth_bearer("  Bearer   abc"), "abc");
	ck_assert_str_eq(auth_bearer("Bearer "), "");
	ck_assert_str_eq(auth_bearer(""), "");
	ck_assert_ptr_null(auth_bearer(NULL));
}
END_TEST

/* Sessions: open makes check 1, revoke makes it 0; the user's hash expires with the token. */
START_TEST(test_session)
{
	struct cache *c = cache_new(&cfg);
	char *tok = NULL;
	struct auth_claims a;
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(auth_token_new(&cfg, 42, "user", &tok, &a), 0);
	ck_assert_int_eq(auth_session_check(c, &a), 0);
	ck_assert_int_eq(auth_session_open(c, &a), 0);
	ck_assert_int_eq(auth_session_check(c, &a), 1);
	redisReply *r = cache_command(c, "TTL fs:usess:%lld", a.user_id);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
	ck_assert_msg(r->integer > cfg.access_expire - 10 && r->integer <= cfg.access_expire,
		      "ttl %lld", r->integer);
	freeReplyObject(r);
	ck_assert_int_eq(auth_session_revoke(c, &a), 0);
	ck_assert_int_eq(auth_session_check(c, &a), 0);
	free(tok);
	cache_free(c);
}
END_TEST

/* Revoking one session leaves another token's session live. */
START_TEST(test_session_independent)
{
	struct cache *c = cache_new(&cfg);
	char *t1 = NULL, *t2 = NULL;
	struct auth_claims a, b;
	ck_assert_int_eq(auth_token_new(&cfg, 42, "user", &t1, &a), 0);
	ck_assert_int_eq(auth_token_new(&cfg, 42, "user", &t2, &b), 0);
	ck_assert_int_eq(auth_session_open(c, &a), 0);
	ck_assert_int_eq(auth_session_open(c, &b), 0);
	ck_assert_int_eq(auth_session_revoke(c, &a), 0);
	ck_assert_int_eq(auth_session_check(c, &a), 0);
	ck_assert_int_eq(auth_session_check(c, &b), 1);
	ck_assert_int_eq(auth_session_revoke(c, &b), 0);
	free(t1);
	free(t2);
	cache_free(c);
}
END_TEST

/* An already expired claim set cannot open a session. */
START_TEST(test_session_expired)
{
	struct cache *c = cache_new(&cfg);
	struct auth_claims a = {.user_id = 42, .role = "user", .jti = JTI};
	a.iat = (long long)time(NULL) - 100;
	a.exp = a.iat + 50;
	ck_assert_int_eq(auth_session_open(c, &a), -1);
	ck_assert_int_eq(auth_session_check(c, &a), 0);
	cache_free(c);
}
END_TEST

/* A user keeps at most max_sessions sessions; the oldest go first. */
START_TEST(test_session_cap)
{
	struct cache *c = cache_new(&cfg);
	struct auth_claims a[5];
	char *t[5];
	long long uid = 424242;
	ck_assert_int_eq(auth_session_revoke_all(c, uid), 0);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t[i], &a[i]), 0);
		a[i].iat += i; /* distinct ages */
		ck_assert_int_eq(auth_session_open_child(c, &a[i], NULL, 3), 0);
	}
	ck_assert_int_eq(auth_session_check(c, &a[0]), 0);
	ck_assert_int_eq(auth_session_check(c, &a[1]), 0);
	for (int i = 2; i < 5; i++)
		ck_assert_int_eq(auth_session_check(c, &a[i]), 1);
	ck_assert_int_eq(auth_session_revoke_all(c, uid), 0);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(auth_session_check(c, &a[i]), 0);
		free(t[i]);
	}
	cache_free(c);
}
END_TEST

/* Revoking a session revokes its family (login and refreshes), not other logins. */
START_TEST(test_session_children)
{
	struct cache *c = cache_new(&cfg);
	struct auth_claims p, k, g, o;
	char *t[4];
	long long uid = 424243;
	ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t[0], &p), 0);
	ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t[1], &k), 0);
	ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t[2], &g), 0);
	ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t[3], &o), 0);
	ck_assert_int_eq(auth_session_open_child(c, &p, NULL, 10), 0);
	ck_assert_int_eq(auth_session_open_child(c, &k, p.jti, 10), 0);
	ck_assert_int_eq(auth_session_open_child(c, &g, k.jti, 10), 0);
	ck_assert_int_eq(auth_session_open_child(c, &o, NULL, 10), 0);
	ck_assert_int_eq(auth_session_revoke(c, &p), 0);
	ck_assert_int_eq(auth_session_check(c, &p), 0);
	ck_assert_int_eq(auth_session_check(c, &k), 0);
	ck_assert_int_eq(auth_session_check(c, &g), 0);
	ck_assert_int_eq(auth_session_check(c, &o), 1);
	/* Revoking the newest of a family ends the login it came from too. */
	struct auth_claims q, r2;
	char *t2[2];
	ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t2[0], &q), 0);
	ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t2[1], &r2), 0);
	ck_assert_int_eq(auth_session_open_child(c, &q, NULL, 10), 0);
	ck_assert_int_eq(auth_session_open_child(c, &r2, q.jti, 10), 0);
	ck_assert_int_eq(auth_session_revoke(c, &r2), 0);
	ck_assert_int_eq(auth_session_check(c, &q), 0);
	ck_assert_int_eq(auth_session_check(c, &o), 1);
	free(t2[0]);
	free(t2[1]);
	auth_session_revoke_all(c, uid);
	for (int i = 0; i < 4; i++)
		free(t[i]);
	cache_free(c);
}
END_TEST

/* Collects what a revoke hands to its callback (jtis joined by spaces, expiries summed). */
struct revoked_seen {
	char jtis[256];
	long long exp_sum;
	int n;
};

/* auth_revoked_fn for the test: record the jti and its expiry. */
static int revoked_seen_add(void *arg, const char *jti, long long exp)
{
	struct revoked_seen *s = arg;
	size_t len = strlen(s->jtis);
	snprintf(s->jtis + len, sizeof s->jtis - len, "%s ", jti);
	s->exp_sum += exp;
	s->n++;
	return 0;
}

/* The _each revokes hand every revoked jti and its exp to the callback (for seckill). */
START_TEST(test_session_revoke_each)
{
	struct cache *c = cache_new(&cfg);
	struct auth_claims p, k, o;
	char *t[3];
	long long uid = 424246;
	ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t[0], &p), 0);
	ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t[1], &k), 0);
	ck_assert_int_eq(auth_token_new(&cfg, uid, "user", &t[2], &o), 0);
	ck_assert_int_eq(auth_session_open_child(c, &p, NULL, 10), 0);
	ck_assert_int_eq(auth_session_open_child(c, &k, p.jti, 10), 0);
	ck_assert_int_eq(auth_session_open_child(c, &o, NULL, 10), 0);
	struct revoked_seen seen = {.n = 0};
	ck_assert_int_eq(auth_session_revoke_each(c, &k, revoked_seen_add, &seen), 0);
	ck_assert_int_eq(seen.n, 2);
	ck_assert_ptr_nonnull(strstr(seen.jtis, p.jti));
	ck_assert_ptr_nonnull(strstr(seen.jtis, k.jti));
	ck_assert_ptr_null(strstr(seen.jtis, o.jti));
	ck_assert_int_eq(seen.exp_sum, p.exp + k.exp);
	/* Revoking again hands nothing: they are gone. */
	struct revoked_seen again = {.n = 0};
	ck_assert_int_eq(auth_session_revoke_each(c, &k, revoked_seen_add, &again), 0);
	ck_assert_int_eq(again.n, 0);
	struct revoked_seen all = {.n = 0};
	ck_assert_int_eq(auth_session_revoke_all_each(c, uid, revoked_seen_add, &all), 0);
	ck_assert_int_eq(all.n, 1);
	ck_assert_ptr_nonnull(strstr(all.jtis, o.jti));
	ck_assert_int_eq(all.exp_sum, o.exp);
	ck_assert_int_eq(auth_session_check(c, &o), 0);
	for (int i = 0; i < 3; i++)
		free(t[i]);
	cache_free(c);
}
END_TEST

/* The session names its user and carries the current role, which the check hands back. */
START_TEST(test_session_user_and_role)
{
	struct cache *c = cache_new(&cfg);
	struct auth_claims a;
	char *tok = NULL;
	long long uid = 424244;
	ck_assert_int_eq(auth_token_new(&cfg, uid, "admin", &tok, &a), 0);
	ck_assert_int_eq(auth_session_open(c, &a), 0);
	struct auth_claims other = a;
	other.user_id = uid + 1; /* same jti, another user */
	ck_assert_int_eq(auth_session_check(c, &other), 0);
	char v[128];
	snprintf(v, sizeof v, "%lld user %lld %lld -", uid, a.iat, a.exp);
	redisReply *r = cache_command(c, "HSET fs:usess:%lld %s %s", uid, a.jti, v);
	freeReplyObject(r);
	ck_assert_int_eq(auth_session_check(c, &a), 1);
	ck_assert_str_eq(a.role, "user");
	snprintf(v, sizeof v, "%lld user %lld %lld -", uid + 1, a.iat, a.exp);
	r = cache_command(c, "HSET fs:usess:%lld %s %s", uid, a.jti, v);
	freeReplyObject(r);
	ck_assert_int_eq(auth_session_check(c, &a), 0);
	auth_session_revoke_all(c, uid);
	free(tok);
	cache_free(c);
}
END_TEST

/* With Redis unreachable a session check answers -1, not "revoked". */
START_TEST(test_session_redis_down)
{
	struct fs_config dead;
	unit_config(&dead, "[redis]\nsocket = /nonexistent/fs-unit/redis.sock\n");
	struct cache *c = cache_new(&dead);
	struct auth_claims a = {.user_id = 42, .role = "user", .jti = JTI};
	a.iat = (long long)time(NULL);
	a.exp = a.iat + 600;
	ck_assert_int_eq(auth_session_check(c, &a), -1);
	ck_assert_int_eq(auth_session_open(c, &a), -1);
	cache_free(c);
	config_free(&dead);
}
END_TEST

/* The suite of this file; sessions only with a Redis server. */
static Suite *auth_suite(int with_redis)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("token");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_admin_and_jti);
	tcase_add_test(tc, test_tampered_signature);
	tcase_add_test(tc, test_tampered_payload);
	tcase_add_test(tc, test_alg_none);
	tcase_add_test(tc, test_other_key_or_alg);
	tcase_add_test(tc, test_expired);
	tcase_add_test(tc, test_memo);
	tcase_add_test(tc, test_memo_crowd);
	tcase_add_test(tc, test_bad_claims);
	tcase_add_test(tc, test_claim_types);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_bearer);
	tcase_add_test(tc, test_session_redis_down);
	suite_add_tcase(s, tc);
	if (with_redis) {
		TCase *ts = tcase_create("session");
		tcase_add_checked_fixture(ts, setup, teardown);
		tcase_add_test(ts, test_session);
		tcase_add_test(ts, test_session_independent);
		tcase_add_test(ts, test_session_expired);
		tcase_add_test(ts, test_session_cap);
		tcase_add_test(ts, test_session_children);
		tcase_add_test(ts, test_session_revoke_each);
		tcase_add_test(ts, test_session_user_and_role);
		suite_add_tcase(s, ts);
	}
	return s;
}

/* Run the suite; SKIP (77) if the session tests could not run. */
int main(void)
{
	int with_redis = unit_env("FLASHSALE_TEST_REDIS_SOCKET") != NULL;
	unit_clear_config_env();
	signal(SIGPIPE, SIG_IGN); /* as http_main does */
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	int failed = unit_run(auth_suite(with_redis));
	return unit_status(
	    "test-auth", failed,
	    with_redis ? NULL : "FLASHSALE_TEST_REDIS_SOCKET is not set; sessions not tested");
}
