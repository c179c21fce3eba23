/* usercenter.h - handlers of the usercenter program (fcgi/usercenter). */
#ifndef FS_USERCENTER_H
#define FS_USERCENTER_H

#include "http.h"

/* user-auth.c: register, login, refresh, logout */
int user_register(struct app *app, struct http_req *req);
int user_login(struct app *app, struct http_req *req);
int user_refresh(struct app *app, struct http_req *req);
int user_logout(struct app *app, struct http_req *req);

/* user-auth.c: helpers the other route files share */
/* The "mobile" field: 11 digits starting with 1 (100002 otherwise). */
int user_mobile_param(struct http_req *req, const char **mobile);
/* The caller's address ("-" if unknown). */
const char *user_addr(struct http_req *req);
/* Is the caller's address in usercenter.trusted_addrs (no per-address limits)? */
int user_addr_trusted(struct app *app, struct http_req *req);
/* Issue a token for uid/role (refreshed from parent, or NULL), open its session, set the triple. */
int user_issue(struct app *app, struct http_req *req, long long uid, const char *role,
	       const char *parent);

/* user-profile.c: detail, update */
int user_detail(struct app *app, struct http_req *req);
int user_update(struct app *app, struct http_req *req);
/* Is s an acceptable avatar: empty, an http(s) URL, or a path on this site? */
int user_avatar_ok(const char *s);
/* Load uid's profile into req->data as {userInfo: ...}. */
int user_load_info(struct app *app, struct http_req *req, long long uid);

/* user-sms.c: smsCode, loginBySms */
int user_sms_code(struct app *app, struct http_req *req);
int user_login_by_sms(struct app *app, struct http_req *req);
/* Check (and on success consume) the SMS code of mobile and scene: 0 or 100011/100005. */
int user_sms_verify(struct app *app, struct http_req *req, const char *mobile, const char *scene,
		    const char *code);

/* user-wx.c: wxMiniAuth, wxBind, wxPhone; the init hook makes the WeChat client (app->domain) */
int user_wx_init(struct app *app);
int user_wx_mini_auth(struct app *app, struct http_req *req);
int user_wx_bind(struct app *app, struct http_req *req);
int user_wx_phone(struct app *app, struct http_req *req);

#endif
