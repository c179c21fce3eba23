/* user-wx.c - WeChat mini-program login (wxMiniAuth), binding (wxBind) and phone (wxPhone). */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "wxapi.h"
#include "usercenter.h"

int user_wx_init(struct app *app)
{
	struct wxapi *w = wxapi_new(&app->cfg, app->cache);
	if (!w)
		return -1;
	app->domain = w;
	return 0;
}

/* 200004 with a message saying what WeChat (or the way to it) answered. */
static int wx_fail(struct http_req *req, int rc, long errcode)
{
	const char *why;
	if (rc == WXAPI_REJECTED)
		why = errcode == 40029   ? "invalid code"
		      : errcode == 40163 ? "code already used"
		      : errcode == 45011 ? "too many attempts, try again in a minute"
		      : errcode == -1    ? "WeChat is busy, try again"
		      : errcode == 40226 ? "this WeChat user is blocked"
					 : "WeChat refused the code";
	else if (rc == WXAPI_NOCONFIG)
		why = "WeChat login is not configured";
	else
		why = "WeChat is unreachable, try again";
	if (rc == WXAPI_REJECTED)
		return http_fail(req, E_WX_LOGIN, "WeChat login failed: %s (errcode %ld)", why,
				 errcode);
	return http_fail(req, E_WX_LOGIN, "WeChat login failed: %s", why);
}

/* The openid of the "code" field (code2session); 0 or an API code. */
static int wx_openid(struct app *app, struct http_req *req, char *openid, size_t len)
{
	const char *code;
	char unionid[WXAPI_OPENID_MAX + 1];
	long errcode = 0;
	int rc = param_str(req, "code", 1, 1, 128, &code);
	if (rc)
		return rc;
	rc = wxapi_code2session(app->domain, code, openid, len, unionid, sizeof unionid, &errcode);
	return rc == WXAPI_OK ? 0 : wx_fail(req, rc, errcode);
}

/* The id and role of the account bound to openid: 1 found, 0 none, or -API code. */
static int wx_find(struct app *app, const char *openid, long long *uid, char *role, size_t len)
{
	json_t *row = NULL;
	int rc = db_query_row(app->db, &row,
			      "SELECT id, role FROM flashsale_usercenter.user "
			      "WHERE openid = ? AND del_state = 0",
			      "s", openid);
	if (rc)
		return -err_from_db(rc);
	if (!row)
		return 0;
	*uid = json_integer_value(json_object_get(row, "id"));
	snprintf(role, len, "%s", json_string_value(json_object_get(row, "role")));
	json_decref(row);
	return 1;
}

int user_wx_mini_auth(struct app *app, struct http_req *req)
{
	const char *nickname, *avatar;
	char openid[WXAPI_OPENID_MAX + 1], role[16] = "user", nick[32];
	long long uid = 0;
	int rc;

	if ((rc = param_str(req, "nickname", 0, 1, 32, &nickname)) ||
	    (rc = param_str(req, "avatar", 0, 0, 255, &avatar)))
		return rc;
	if (avatar && !user_avatar_ok(avatar))
		return http_fail(req, E_PARAM,
				 "avatar must be an http(s) URL or a path on this site");
	if ((rc = wx_openid(app, req, openid, sizeof openid)))
		return rc;
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = wx_find(app, openid, &uid, role, sizeof role);
		if (rc < 0)
			return -rc;
		if (rc == 1)
			return user_issue(app, req, uid, role, NULL);
		/* An unknown openid gets an account: no mobile (wxPhone adds one), no password. */
		snprintf(nick, sizeof nick, "wx%.6s",
			 openid + (strlen(openid) > 6 ? strlen(openid) - 6 : 0));
		rc = db_exec(
		    app->db,
		    "INSERT INTO flashsale_usercenter.user (mobile, password, nickname, "
		    "avatar, role, openid, wx_bind_time, create_time, update_time) "
		    "VALUES (NULL, '', ?, ?, 'user', ?, UNIX_TIMESTAMP(), UNIX_TIMESTAMP(), "
		    "UNIX_TIMESTAMP())",
		    "sss", nickname ? nickname : nick, avatar ? avatar : "", openid);
		if (rc == DB_OK)
			return user_issue(app, req, db_insert_id(app->db), "user", NULL);
		if (rc != DB_DUP)
			return err_from_db(rc);
		/* The same openid signed up at the same moment: log in to that account. */
	}
	return E_CONFLICT;
}

int user_wx_bind(struct app *app, struct http_req *req)
{
	char openid[WXAPI_OPENID_MAX + 1], role[16];
	long long owner = 0;
	int rc = wx_openid(app, req, openid, sizeof openid);
	if (rc)
		return rc;
	rc = wx_find(app, openid, &owner, role, sizeof role);
	if (rc < 0)
		return -rc;
	if (rc == 1 && owner != req->claims.user_id)
		return E_WX_BOUND;
	if (rc == 0) {
		rc = db_exec(app->db,
			     "UPDATE flashsale_usercenter.user SET openid = ?, "
			     "wx_bind_time = UNIX_TIMESTAMP(), update_time = UNIX_TIMESTAMP(), "
			     "version = version + 1 WHERE id = ? AND del_state = 0",
			     "si", openid, req->claims.user_id);
		if (rc == DB_DUP)
			return E_WX_BOUND;
		if (rc)
			return err_from_db(rc);
	}
	return user_load_info(app, req, req->claims.user_id);
}

int user_wx_phone(struct app *app, struct http_req *req)
{
	const char *code;
	char phone[32], country[8];
	long errcode = 0;
	int rc = param_str(req, "code", 1, 1, 128, &code);
	if (rc)
		return rc;
	rc = wxapi_phone_number(app->domain, code, phone, sizeof phone, country, sizeof country,
				&errcode);
	if (rc != WXAPI_OK)
		return wx_fail(req, rc, errcode);
	if ((country[0] && strcmp(country, "86")) || strlen(phone) != 11 || phone[0] != '1' ||
	    strspn(phone, "0123456789") != 11)
		return http_fail(req, E_PARAM,
				 "only mainland China mobiles (11 digits) are supported");
	rc = db_exec(app->db,
		     "UPDATE flashsale_usercenter.user SET mobile = ?, mobile_verified = 1, "
		     "mobile_verify_time = UNIX_TIMESTAMP(), update_time = UNIX_TIMESTAMP(), "
		     "version = version + 1 WHERE id = ? AND del_state = 0",
		     "si", phone, req->claims.user_id);
	if (rc == DB_DUP)
		return http_fail(req, E_MOBILE_TAKEN, "this mobile belongs to another account");
	if (rc)
		return err_from_db(rc);
	return user_load_info(app, req, req->claims.user_id);
}
