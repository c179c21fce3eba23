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

/* Check the mobile format of API.md: 11 digits starting with 1. */
static int user_mobile_param(struct http_req *req, const char **mobile)
{
	int rc = param_str(req, "mobile", 1, 11, 11, mobile);
	if (rc)
		return rc;
	if ((*mobile)[0] != '1' || strspn(*mobile, "0123456789") != 11)
		return http_fail(req, E_PARAM, "mobile must be 11 digits starting with 1");
	return 0;
}

/* Issue a token for uid/role, open its session, and set the token triple as data. */
static int user_issue(struct app *app, struct http_req *req, long long uid, const char *role)
{
	struct auth_claims claims;
	char *token = NULL;
	if (auth_token_new(&app->cfg, uid, role, &token, &claims) < 0)
		return E_TOKEN_GEN;
	if (auth_session_open(app->cache, &claims) < 0) {
		free(token);
		return E_DB_BUSY;
	}
	req->data =
	    json_pack("{s:s,s:I,s:I}", "accessToken", token, "accessExpire", (json_int_t)claims.exp,
		      "refreshAfter", (json_int_t)(claims.iat + (claims.exp - claims.iat) / 2));
	free(token);
	return req->data ? 0 : E_SERVER;
}

int user_register(struct app *app, struct http_req *req)
{
	const char *mobile, *password, *nickname;
	char hash[PASSWD_HASH_MAX], defnick[32];
	int rc;

	if ((rc = user_mobile_param(req, &mobile)) ||
	    (rc = param_str(req, "password", 1, 6, 64, &password)) ||
	    (rc = param_str(req, "nickname", 0, 1, 32, &nickname)))
		return rc;
	if (!nickname) {
		snprintf(defnick, sizeof defnick, "user%s", mobile + 7);
		nickname = defnick;
	}
	if (passwd_hash(password, app->cfg.pwhash_opslimit, app->cfg.pwhash_memlimit_kib, hash) < 0)
		return E_SERVER;
	rc = db_exec(app->db,
		     "INSERT INTO flashsale_usercenter.user (mobile, password, nickname, role, "
		     "create_time, update_time) VALUES (?, ?, ?, 'user', UNIX_TIMESTAMP(), "
		     "UNIX_TIMESTAMP())",
		     "sss", mobile, hash, nickname);
	if (rc == DB_DUP)
		return E_MOBILE_TAKEN;
	if (rc)
		return err_from_db(rc);
	return user_issue(app, req, db_insert_id(app->db), "user");
}

int user_login(struct app *app, struct http_req *req)
{
	const char *mobile, *password;
	char addr_key[96], fail_key[64];
	long retry = 0;
	int rc;

	if ((rc = user_mobile_param(req, &mobile)) ||
	    (rc = param_str(req, "password", 1, 1, 64, &password)))
		return rc;

	snprintf(addr_key, sizeof addr_key, "fs:rl:login:addr:%.64s",
		 req->remote_addr ? req->remote_addr : "-");
	snprintf(fail_key, sizeof fail_key, "fs:rl:login:fail:%s", mobile);
	rc = ratelimit_hit(app->cache, addr_key, app->cfg.login_per_addr,
			   app->cfg.login_addr_window, &retry);
	if (rc == RL_ALLOW)
		rc = ratelimit_check(app->cache, fail_key, app->cfg.login_fail_per_mobile, &retry);
	if (rc == RL_ERROR)
		return E_DB_BUSY;
	if (rc == RL_DENY) {
		req->retry_after = retry;
		return http_fail(req, E_RATE_LIMIT, "too many login attempts, retry in %ld s",
				 retry);
	}

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
		ratelimit_hit(app->cache, fail_key, app->cfg.login_fail_per_mobile,
			      app->cfg.login_fail_window, &retry);
		return E_LOGIN_FAILED;
	}
	ratelimit_reset(app->cache, fail_key);
	long long uid = json_integer_value(json_object_get(row, "id"));
	char role[16];
	snprintf(role, sizeof role, "%s", json_string_value(json_object_get(row, "role")));
	json_decref(row);
	return user_issue(app, req, uid, role);
}

int user_refresh(struct app *app, struct http_req *req)
{
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
	return user_issue(app, req, req->claims.user_id, role);
}

int user_logout(struct app *app, struct http_req *req)
{
	if (auth_session_revoke(app->cache, &req->claims) < 0)
		return E_DB_BUSY;
	if (seckill_revoke_jti(app->cache, req->claims.jti, req->claims.exp) < 0)
		return E_DB_BUSY;
	return 0;
}
