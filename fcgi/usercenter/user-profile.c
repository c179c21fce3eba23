/* user-profile.c - the signed-in user's profile: detail and update. */
#include <stdio.h>

#include "usercenter.h"

/* Load the user's public profile into req->data as {userInfo: ...}. */
static int user_load(struct app *app, struct http_req *req)
{
	json_t *row;
	int rc = db_query_row(app->db, &row,
			      "SELECT id, mobile, nickname, sex, avatar, info "
			      "FROM flashsale_usercenter.user WHERE id = ? AND del_state = 0",
			      "i", req->claims.user_id);
	if (rc)
		return err_from_db(rc);
	if (!row)
		return http_fail(req, E_TOKEN, "user no longer exists");
	req->data = json_pack("{s:o}", "userInfo", row);
	return 0;
}

int user_detail(struct app *app, struct http_req *req)
{
	return user_load(app, req);
}

int user_update(struct app *app, struct http_req *req)
{
	const char *nickname, *avatar, *info;
	long long sex = -1;
	char sexbuf[8];
	int rc;

	if ((rc = param_str(req, "nickname", 0, 1, 32, &nickname)) ||
	    (rc = param_int(req, "sex", 0, 0, 1, &sex)) ||
	    (rc = param_str(req, "avatar", 0, 0, 255, &avatar)) ||
	    (rc = param_str(req, "info", 0, 0, 255, &info)))
		return rc;
	snprintf(sexbuf, sizeof sexbuf, "%lld", sex);
	rc = db_exec(
	    app->db,
	    "UPDATE flashsale_usercenter.user SET nickname = COALESCE(?, nickname), "
	    "sex = COALESCE(?, sex), avatar = COALESCE(?, avatar), info = COALESCE(?, info), "
	    "update_time = UNIX_TIMESTAMP(), version = version + 1 "
	    "WHERE id = ? AND del_state = 0",
	    "ssssi", nickname, sex >= 0 ? sexbuf : NULL, avatar, info, req->claims.user_id);
	if (rc)
		return err_from_db(rc);
	return user_load(app, req);
}
