/* user-profile.c - the signed-in user's profile: detail and update. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "usercenter.h"

int user_load_info(struct app *app, struct http_req *req, long long uid)
{
	json_t *row;
	int rc = db_query_row(app->db, &row,
			      "SELECT id, mobile, nickname, sex, avatar, info, "
			      "openid IS NOT NULL AS wxBound, mobile_verified AS mobileVerified "
			      "FROM flashsale_usercenter.user WHERE id = ? AND del_state = 0",
			      "i", uid);
	if (rc)
		return err_from_db(rc);
	if (!row)
		return http_fail(req, E_TOKEN, "user no longer exists");
	/* Booleans on the wire, not the 0/1 MariaDB answers. */
	json_object_set_new(row, "wxBound",
			    json_boolean(json_integer_value(json_object_get(row, "wxBound"))));
	json_object_set_new(
	    row, "mobileVerified",
	    json_boolean(json_integer_value(json_object_get(row, "mobileVerified"))));
	req->data = json_pack("{s:o}", "userInfo", row);
	return 0;
}

/* Load the signed-in user's profile. */
static int user_load(struct app *app, struct http_req *req)
{
	return user_load_info(app, req, req->claims.user_id);
}

/*
 * An avatar is empty, an http(s) URL with a host, or a path on this site ("a.png",
 * "/img/a.png"; not "//host"): no other scheme (javascript:, data:, ...), no
 * control characters, spaces, quotes, angle brackets or backslashes.
 */
int user_avatar_ok(const char *s)
{
	if (!*s)
		return 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '"' || *p == '\\' || *p == '<' || *p == '>' ||
		    *p == '\'' || *p == '`')
			return 0;
	const char *rest = !strncasecmp(s, "https://", 8)  ? s + 8
			   : !strncasecmp(s, "http://", 7) ? s + 7
							   : NULL;
	if (rest)
		return isalnum((unsigned char)*rest) || *rest == '[';
	/* A relative reference: a ':' before any '/', '?' or '#' would make it a scheme. */
	size_t head = strcspn(s, "/?#");
	return !memchr(s, ':', head) && strncmp(s, "//", 2);
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
	if (avatar && !user_avatar_ok(avatar))
		return http_fail(req, E_PARAM,
				 "avatar must be an http(s) URL or a path on this site");
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
