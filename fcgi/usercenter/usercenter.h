/* usercenter.h - handlers of the usercenter program (fcgi/usercenter). */
#ifndef FS_USERCENTER_H
#define FS_USERCENTER_H

#include "http.h"

/* user-auth.c: register, login, refresh, logout */
int user_register(struct app *app, struct http_req *req);
int user_login(struct app *app, struct http_req *req);
int user_refresh(struct app *app, struct http_req *req);
int user_logout(struct app *app, struct http_req *req);

/* user-profile.c: detail, update */
int user_detail(struct app *app, struct http_req *req);
int user_update(struct app *app, struct http_req *req);

#endif
