/* user-sms.c - SMS verification codes: smsCode (send), loginBySms, and the check register uses. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "ratelimit.h"
#include "sms.h"
#include "usercenter.h"

/*
 * A code lives in fs:sms:code:<scene>:<mobile>, a hash {h: HMAC of the code, t: wrong
 * tries}, for usercenter.sms_code_ttl seconds. Check: a match consumes it; a miss counts
 * a try and the sms_max_tries-th miss burns it. Answers 1 match, 0 miss, -1 none.
 */
static struct cache_script sms_check_script = {
    .src = "local h = redis.call('HGET', KEYS[1], 'h')\n"
	   "if not h then return -1 end\n"
	   "if h == ARGV[1] then redis.call('DEL', KEYS[1]); return 1 end\n"
	   "local t = redis.call('HINCRBY', KEYS[1], 't', 1)\n"
	   "if t >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end\n"
	   "return 0\n",
};

/* Store a new code's HMAC (a new code replaces the old one and its tries). */
static struct cache_script sms_store_script = {
    .src = "redis.call('DEL', KEYS[1])\n"
	   "redis.call('HSET', KEYS[1], 'h', ARGV[1], 't', 0)\n"
	   "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
	   "return 1\n",
};

/* Is scene one of API.md's: register, login, bind? */
static int sms_scene_ok(const char *s)
{
	return !strcmp(s, "register") || !strcmp(s, "login") || !strcmp(s, "bind");
}

/* Hex HMAC-SHA256 of "scene:mobile:code", keyed by a hash of the JWT secret. */
static void sms_code_hash(const struct fs_config *cfg, const char *scene, const char *mobile,
			  const char *code, char out[65])
{
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES], mac[crypto_auth_hmacsha256_BYTES];
	char msg[96];
	crypto_generichash(key, sizeof key, (const unsigned char *)cfg->jwt_secret,
			   strlen(cfg->jwt_secret), (const unsigned char *)"fs-sms-code", 11);
	snprintf(msg, sizeof msg, "%s:%s:%s", scene, mobile, code);
	crypto_auth_hmacsha256(mac, (const unsigned char *)msg, strlen(msg), key);
	sodium_bin2hex(out, 65, mac, sizeof mac);
	sodium_memzero(key, sizeof key);
}

int user_sms_verify(struct app *app, struct http_req *req, const char *mobile, const char *scene,
		    const char *code)
{
	char key[64], hash[65], tries[16];
	if (strlen(code) != 6 || strspn(code, "0123456789") != 6)
		return http_fail(req, E_SMS_CODE, "code must be the 6 digits sent by SMS");
	snprintf(key, sizeof key, "fs:sms:code:%s:%s", scene, mobile);
	snprintf(tries, sizeof tries, "%ld", app->cfg.sms_max_tries);
	sms_code_hash(&app->cfg, scene, mobile, code, hash);
	const char *argv[] = {key, hash, tries};
	redisReply *r = cache_eval(app->cache, &sms_check_script, 1, 3, argv);
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		if (r)
			freeReplyObject(r);
		return E_DB_BUSY;
	}
	long long v = r->integer;
	freeReplyObject(r);
	if (v == 1)
		return 0;
	return http_fail(req, E_SMS_CODE,
			 v < 0 ? "no valid code: it expired, was used up, or none was sent"
			       : "verification code wrong");
}

/* Count a send against a daily cap: 0, or 100007 with Retry-After. */
static int sms_daily(struct app *app, struct http_req *req, const char *key, long cap)
{
	long retry = 0;
	int rc = ratelimit_hit(app->cache, key, cap, 86400, &retry);
	if (rc == RL_ERROR)
		return E_DB_BUSY;
	if (rc == RL_DENY) {
		req->retry_after = retry;
		return http_fail(req, E_RATE_LIMIT, "daily SMS limit reached, retry in %ld s",
				 retry);
	}
	return 0;
}

/* Drop a key (undo a send that did not go out). */
static void sms_forget(struct app *app, const char *key)
{
	redisReply *r = cache_command(app->cache, "DEL %s", key);
	if (r)
		freeReplyObject(r);
}

int user_sms_code(struct app *app, struct http_req *req)
{
	const char *mobile, *scene;
	char gap_key[64], key[96], code[8], hash[65], ttl[16], err[256];
	int rc;

	if ((rc = user_mobile_param(req, &mobile)) ||
	    (rc = param_str(req, "scene", 1, 1, 16, &scene)))
		return rc;
	if (!sms_scene_ok(scene))
		return http_fail(req, E_PARAM, "scene must be register, login or bind");
	if (!strcmp(scene, "register")) {
		json_t *row = NULL;
		rc = db_query_row(app->db, &row,
				  "SELECT id FROM flashsale_usercenter.user WHERE mobile = ?", "s",
				  mobile);
		if (rc)
			return err_from_db(rc);
		if (row) {
			json_decref(row);
			return E_MOBILE_TAKEN;
		}
	}
	/* One send per mobile per sms_send_interval, whatever the scene. */
	snprintf(gap_key, sizeof gap_key, "fs:sms:gap:%s", mobile);
	redisReply *r =
	    cache_command(app->cache, "SET %s 1 NX EX %ld", gap_key, app->cfg.sms_send_interval);
	if (!r)
		return E_DB_BUSY;
	int fresh = r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (!fresh) {
		long left = app->cfg.sms_send_interval;
		if ((r = cache_command(app->cache, "TTL %s", gap_key))) {
			if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
				left = (long)r->integer;
			freeReplyObject(r);
		}
		req->retry_after = left;
		return http_fail(req, E_RATE_LIMIT, "a code was sent just now; resend in %ld s",
				 left);
	}
	snprintf(key, sizeof key, "fs:sms:day:m:%s", mobile);
	if ((rc = sms_daily(app, req, key, app->cfg.sms_daily_per_mobile)))
		return rc;
	if (!user_addr_trusted(app, req)) {
		snprintf(key, sizeof key, "fs:sms:day:a:%.64s", user_addr(req));
		if ((rc = sms_daily(app, req, key, app->cfg.sms_daily_per_addr)))
			return rc;
	}

	snprintf(code, sizeof code, "%06u", (unsigned)randombytes_uniform(1000000));
	sms_code_hash(&app->cfg, scene, mobile, code, hash);
	snprintf(key, sizeof key, "fs:sms:code:%s:%s", scene, mobile);
	snprintf(ttl, sizeof ttl, "%ld", app->cfg.sms_code_ttl);
	const char *argv[] = {key, hash, ttl};
	r = cache_eval(app->cache, &sms_store_script, 1, 3, argv);
	int stored = r && r->type == REDIS_REPLY_INTEGER;
	if (r)
		freeReplyObject(r);
	if (!stored)
		return E_DB_BUSY;
	rc = sms_send_code(&app->cfg, mobile, code, err, sizeof err);
	sodium_memzero(code, sizeof code);
	if (rc != SMS_OK) {
		/* Nothing went out: forget the code and let the user ask again at once. */
		sms_forget(app, key);
		sms_forget(app, gap_key);
		log_warn("smsCode: %s", err);
		return http_fail(req, E_SERVER, "the SMS could not be sent, try again later");
	}
	req->data = json_pack("{s:I}", "resendAfter", (json_int_t)app->cfg.sms_send_interval);
	return 0;
}

int user_login_by_sms(struct app *app, struct http_req *req)
{
	const char *mobile, *code;
	json_t *row = NULL;
	long long uid;
	char role[16] = "user", nick[32];
	int rc;

	if ((rc = user_mobile_param(req, &mobile)) ||
	    (rc = param_str(req, "code", 1, 1, 16, &code)))
		return rc;
	if ((rc = user_sms_verify(app, req, mobile, "login", code)))
		return rc;
	rc = db_query_row(app->db, &row,
			  "SELECT id, role FROM flashsale_usercenter.user "
			  "WHERE mobile = ? AND del_state = 0",
			  "s", mobile);
	if (rc)
		return err_from_db(rc);
	if (row) {
		uid = json_integer_value(json_object_get(row, "id"));
		snprintf(role, sizeof role, "%s", json_string_value(json_object_get(row, "role")));
		json_decref(row);
		rc =
		    db_exec(app->db,
			    "UPDATE flashsale_usercenter.user SET mobile_verified = 1, "
			    "mobile_verify_time = UNIX_TIMESTAMP(), update_time = UNIX_TIMESTAMP() "
			    "WHERE id = ? AND mobile_verified = 0",
			    "i", uid);
		if (rc)
			return err_from_db(rc);
		return user_issue(app, req, uid, role, NULL);
	}
	/* An unknown mobile gets an account with no password (it logs in by SMS). */
	snprintf(nick, sizeof nick, "user%s", mobile + 7);
	rc = db_exec(app->db,
		     "INSERT INTO flashsale_usercenter.user (mobile, password, nickname, role, "
		     "mobile_verified, mobile_verify_time, create_time, update_time) "
		     "VALUES (?, '', ?, 'user', 1, UNIX_TIMESTAMP(), UNIX_TIMESTAMP(), "
		     "UNIX_TIMESTAMP())",
		     "ss", mobile, nick);
	if (rc == DB_DUP)
		return http_fail(req, E_CONFLICT, "the account was created just now, try again");
	if (rc)
		return err_from_db(rc);
	return user_issue(app, req, db_insert_id(app->db), "user", NULL);
}
