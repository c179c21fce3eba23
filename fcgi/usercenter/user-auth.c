/* user-auth.c - register, login (rate limited), refresh and logout. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "passwd.h"
#include "ratelimit.h"
#include "seckill-lib.h"
#include "usercenter.h"

/* A hash to verify against when the mobile is unknown, so timing tells nothing. */
static char user_dummy_hash[PASSWD_HASH_MAX];

int user_mobile_param(struct http_req *req, const char **mobile)
{
	int rc = param_str(req, "mobile", 1, 11, 11, mobile);
	if (rc)
		return rc;
	if ((*mobile)[0] != '1' || strspn(*mobile, "0123456789") != 11)
		return http_fail(req, E_PARAM, "mobile must be 11 digits starting with 1");
	return 0;
}

const char *user_addr(struct http_req *req)
{
	return req->remote_addr && *req->remote_addr ? req->remote_addr : "-";
}

int user_addr_trusted(struct app *app, struct http_req *req)
{
	const char *list = app->cfg.trusted_addrs, *addr = user_addr(req);
	size_t n = strlen(addr);
	while (list && *list) {
		while (*list == ' ' || *list == ',')
			list++;
		size_t len = strcspn(list, ", ");
		if (len == n && len && !strncmp(list, addr, n))
			return 1;
		list += len;
	}
	return 0;
}

/* The refreshAfter of a token: auth.refresh_after seconds after issue, or half its life. */
static long long user_refresh_after(const struct fs_config *cfg, const struct auth_claims *c)
{
	long long at =
	    cfg->refresh_after > 0 ? c->iat + cfg->refresh_after : c->iat + (c->exp - c->iat) / 2;
	return at < c->exp ? at : c->exp;
}

/* auth_revoked_fn: the revoked jti into every live activity's revocation set. */
static int user_revoke_seckill(void *cache, const char *jti, long long exp)
{
	return seckill_revoke_jti(cache, jti, exp);
}

int user_issue(struct app *app, struct http_req *req, long long uid, const char *role,
	       const char *parent)
{
	struct auth_claims claims;
	char *token = NULL;
	if (auth_token_new(&app->cfg, uid, role, &token, &claims) < 0)
		return E_TOKEN_GEN;
	/* A session evicted by the cap stops buying on /seckill/do too, as a logout would. */
	if (auth_session_open_each(app->cache, &claims, parent, app->cfg.max_sessions,
				   user_revoke_seckill, app->cache) < 0) {
		free(token);
		return E_DB_BUSY;
	}
	req->data =
	    json_pack("{s:s,s:I,s:I}", "accessToken", token, "accessExpire", (json_int_t)claims.exp,
		      "refreshAfter", (json_int_t)user_refresh_after(&app->cfg, &claims));
	free(token);
	return req->data ? 0 : E_SERVER;
}

/* Count one registration from the caller's address: 0, or 100007 past the cap. */
static int user_register_throttle(struct app *app, struct http_req *req)
{
	char key[96];
	long retry = 0;
	if (user_addr_trusted(app, req))
		return 0;
	snprintf(key, sizeof key, "fs:rl:reg:addr:%.64s", user_addr(req));
	int rc = ratelimit_hit(app->cache, key, app->cfg.register_per_addr,
			       app->cfg.register_addr_window, &retry);
	if (rc == RL_ERROR)
		return E_DB_BUSY;
	if (rc == RL_DENY) {
		req->retry_after = retry;
		return http_fail(req, E_RATE_LIMIT, "too many registrations, retry in %ld s",
				 retry);
	}
	return 0;
}

int user_register(struct app *app, struct http_req *req)
{
	const char *mobile, *password, *nickname, *code;
	char hash[PASSWD_HASH_MAX], defnick[32];
	json_t *row = NULL;
	int rc;

	if ((rc = user_mobile_param(req, &mobile)) ||
	    (rc = param_str(req, "password", 1, 6, 64, &password)) ||
	    (rc = param_str(req, "nickname", 0, 1, 32, &nickname)) ||
	    (rc = param_str(req, "code", 0, 1, 16, &code)))
		return rc;
	if (!code && app->cfg.require_sms_code)
		return http_fail(req, E_PARAM, "code is required: ask for an SMS code first");
	/* Cheap refusals before the costly hash: the address cap, then a taken mobile. */
	if ((rc = user_register_throttle(app, req)))
		return rc;
	rc = db_query_row(app->db, &row,
			  "SELECT id FROM flashsale_usercenter.user WHERE mobile = ?", "s", mobile);
	if (rc)
		return err_from_db(rc);
	if (row) {
		json_decref(row);
		return E_MOBILE_TAKEN;
	}
	if (code && (rc = user_sms_verify(app, req, mobile, "register", code)))
		return rc;
	if (!nickname) {
		snprintf(defnick, sizeof defnick, "user%s", mobile + 7);
		nickname = defnick;
	}
	if (passwd_hash(password, app->cfg.pwhash_opslimit, app->cfg.pwhash_memlimit_kib, hash) < 0)
		return E_SERVER;
	rc = db_exec(
	    app->db,
	    "INSERT INTO flashsale_usercenter.user (mobile, password, nickname, role, "
	    "mobile_verified, mobile_verify_time, create_time, update_time) "
	    "VALUES (?, ?, ?, 'user', ?, IF(? = 1, UNIX_TIMESTAMP(), 0), UNIX_TIMESTAMP(), "
	    "UNIX_TIMESTAMP())",
	    "sssii", mobile, hash, nickname, (long long)(code != NULL), (long long)(code != NULL));
	if (rc == DB_DUP)
		return E_MOBILE_TAKEN;
	if (rc)
		return err_from_db(rc);
	return user_issue(app, req, db_insert_id(app->db), "user", NULL);
}

/*
 * Failures count per (mobile, address): past login_fail_per_mobile that address is
 * refused for the window, others are not. Past login_fail_slow failures of the mobile
 * from all addresses, an address that has failed for it gets one try per
 * login_slow_interval. 0 to go on, or an API code.
 */
static int user_login_gate(struct app *app, struct http_req *req, const char *pair_key,
			   const char *mobile_key, const char *mobile)
{
	char addr_key[96], slow_key[64];
	long retry = 0;
	int rc = RL_ALLOW, trusted = user_addr_trusted(app, req);

	snprintf(addr_key, sizeof addr_key, "fs:rl:login:addr:%.64s", user_addr(req));
	if (!trusted)
		rc = ratelimit_hit(app->cache, addr_key, app->cfg.login_per_addr,
				   app->cfg.login_addr_window, &retry);
	if (rc == RL_ALLOW)
		rc = ratelimit_check(app->cache, pair_key, app->cfg.login_fail_per_mobile, &retry);
	if (rc == RL_ALLOW && ratelimit_check(app->cache, pair_key, 1, &retry) == RL_DENY &&
	    ratelimit_check(app->cache, mobile_key, app->cfg.login_fail_slow, &retry) == RL_DENY) {
		snprintf(slow_key, sizeof slow_key, "fs:rl:login:slow:%s", mobile);
		rc = ratelimit_hit(app->cache, slow_key, 1, app->cfg.login_slow_interval, &retry);
	}
	if (rc == RL_ERROR)
		return E_DB_BUSY;
	if (rc == RL_DENY) {
		req->retry_after = retry;
		return http_fail(req, E_RATE_LIMIT, "too many login attempts, retry in %ld s",
				 retry);
	}
	return 0;
}

int user_login(struct app *app, struct http_req *req)
{
	const char *mobile, *password;
	char pair_key[128], mobile_key[64];
	long retry = 0;
	int rc;

	if ((rc = user_mobile_param(req, &mobile)) ||
	    (rc = param_str(req, "password", 1, 1, 64, &password)))
		return rc;
	snprintf(pair_key, sizeof pair_key, "fs:rl:login:fail:%s:%.64s", mobile, user_addr(req));
	snprintf(mobile_key, sizeof mobile_key, "fs:rl:login:failm:%s", mobile);
	if ((rc = user_login_gate(app, req, pair_key, mobile_key, mobile)))
		return rc;

	json_t *row;
	rc = db_query_row(app->db, &row,
			  "SELECT id, password, role FROM flashsale_usercenter.user "
			  "WHERE mobile = ? AND del_state = 0",
			  "s", mobile);
	if (rc)
		return err_from_db(rc);
	static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&dummy_lock); /* made once, by whichever thread comes first */
	if (!user_dummy_hash[0])
		passwd_hash("flashsale-dummy", app->cfg.pwhash_opslimit,
			    app->cfg.pwhash_memlimit_kib, user_dummy_hash);
	pthread_mutex_unlock(&dummy_lock);
	const char *hash =
	    row ? json_string_value(json_object_get(row, "password")) : user_dummy_hash;
	if (!passwd_verify(hash, password) || !row) {
		json_decref(row);
		ratelimit_hit(app->cache, pair_key, app->cfg.login_fail_per_mobile,
			      app->cfg.login_fail_window, &retry);
		ratelimit_hit(app->cache, mobile_key, app->cfg.login_fail_slow,
			      app->cfg.login_fail_window, &retry);
		return E_LOGIN_FAILED;
	}
	ratelimit_reset(app->cache, pair_key);
	long long uid = json_integer_value(json_object_get(row, "id"));
	char role[16];
	snprintf(role, sizeof role, "%s", json_string_value(json_object_get(row, "role")));
	json_decref(row);
	return user_issue(app, req, uid, role, NULL);
}

int user_refresh(struct app *app, struct http_req *req)
{
	long long at = user_refresh_after(&app->cfg, &req->claims), now = (long long)time(NULL);
	if (now < at) {
		req->retry_after = (long)(at - now);
		return http_fail(req, E_RATE_LIMIT, "refresh after refreshAfter (in %lld s)",
				 at - now);
	}
	json_t *row;
	int rc = db_query_row(
	    app->db, &row,
	    "SELECT role FROM flashsale_usercenter.user WHERE id = ? AND del_state = 0", "i",
	    req->claims.user_id);
	if (rc)
		return err_from_db(rc);
	if (!row)
		return http_fail(req, E_TOKEN, "user no longer exists");
	char role[16];
	snprintf(role, sizeof role, "%s", json_string_value(json_object_get(row, "role")));
	json_decref(row);
	return user_issue(app, req, req->claims.user_id, role, req->claims.jti);
}

int user_logout(struct app *app, struct http_req *req)
{
	json_t *all = json_object_get(req->params, "all");
	if (all && !json_is_boolean(all))
		return http_fail(req, E_PARAM, "all must be a boolean");
	/* Each revoked jti also stops buying on /seckill/do at once (ROUTE_JWT, no session). */
	int rc = json_is_true(all) ? auth_session_revoke_all_each(app->cache, req->claims.user_id,
								  user_revoke_seckill, app->cache)
				   : auth_session_revoke_each(app->cache, &req->claims,
							      user_revoke_seckill, app->cache);
	return rc < 0 ? E_DB_BUSY : 0;
}
