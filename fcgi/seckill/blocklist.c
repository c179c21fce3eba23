/* blocklist.c - admin: users, mobiles and client addresses refused seckill tokens. */
#include <arpa/inet.h>
#include <string.h>

#include "guard.h"
#include "seckill.h"

/* The one entry a request names: kind and value (validated). 0 or an API code. */
static int blocklist_entry(struct http_req *req, const char **kind, char *value, size_t len)
{
	long long uid = 0;
	const char *mobile = NULL, *addr = NULL;
	int rc,
	    named = param_has(req, "userId") + param_has(req, "mobile") + param_has(req, "address");
	if (named != 1)
		return http_fail(req, E_PARAM, "give exactly one of userId, mobile, address");
	if ((rc = param_int(req, "userId", 0, 1, (long long)1 << 53, &uid)) ||
	    (rc = param_str(req, "mobile", 0, 11, 11, &mobile)) ||
	    (rc = param_str(req, "address", 0, 2, 45, &addr)))
		return rc;
	if (uid) {
		*kind = "user";
		snprintf(value, len, "%lld", uid);
	} else if (mobile) {
		if (mobile[0] != '1' || strspn(mobile, "0123456789") != 11)
			return http_fail(req, E_PARAM, "mobile: 11 digits starting with 1");
		*kind = "mobile";
		snprintf(value, len, "%s", mobile);
	} else {
		unsigned char buf[16];
		if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
			return http_fail(req, E_PARAM, "address: an IPv4 or IPv6 address");
		*kind = "address";
		snprintf(value, len, "%s", addr);
	}
	return 0;
}

int seckill_blocklist_add(struct app *app, struct http_req *req)
{
	const char *kind, *reason = "";
	char value[64], field[96];
	int rc = blocklist_entry(req, &kind, value, sizeof value);
	if (rc || (rc = param_str(req, "reason", 0, 0, 128, &reason)))
		return rc;
	if (!reason)
		reason = "";
	rc = db_exec(app->db,
		     "INSERT INTO flashsale_seckill.blocklist (kind, value, reason, create_time) "
		     "VALUES (?, ?, ?, UNIX_TIMESTAMP()) ON DUPLICATE KEY UPDATE reason = "
		     "VALUES(reason)",
		     "sss", kind, value, reason);
	if (rc)
		return err_from_db(rc);
	guard_blocklist_field(field, sizeof field, kind, value);
	/* MySQL has it; a retry is harmless, and the preheat job rebuilds Redis from MySQL. */
	return guard_blocklist_cache(app->cache, field, reason[0] ? reason : "-") < 0 ? E_DB_BUSY
										      : 0;
}

int seckill_blocklist_remove(struct app *app, struct http_req *req)
{
	const char *kind;
	char value[64], field[96];
	int rc = blocklist_entry(req, &kind, value, sizeof value);
	if (rc)
		return rc;
	rc =
	    db_exec(app->db, "DELETE FROM flashsale_seckill.blocklist WHERE kind = ? AND value = ?",
		    "ss", kind, value);
	if (rc)
		return err_from_db(rc);
	guard_blocklist_field(field, sizeof field, kind, value);
	return guard_blocklist_cache(app->cache, field, NULL) < 0 ? E_DB_BUSY : 0;
}

int seckill_blocklist_list(struct app *app, struct http_req *req)
{
	long long page = 1, size = 20;
	json_t *rows = NULL, *count = NULL;
	int rc;
	if ((rc = param_int(req, "page", 0, 1, 1000000, &page)) ||
	    (rc = param_int(req, "pageSize", 0, 1, 100, &size)))
		return rc;
	rc = db_query(app->db, &rows,
		      "SELECT id, kind, value, reason, create_time AS createTime FROM "
		      "flashsale_seckill.blocklist ORDER BY id DESC LIMIT ? OFFSET ?",
		      "ii", size, (page - 1) * size);
	if (!rc)
		rc = db_query_row(app->db, &count,
				  "SELECT COUNT(*) AS n FROM flashsale_seckill.blocklist", "");
	if (rc) {
		json_decref(rows);
		return err_from_db(rc);
	}
	req->data = json_pack("{s:o,s:I,s:I,s:I}", "list", rows, "total",
			      (json_int_t)json_integer_value(json_object_get(count, "n")), "page",
			      (json_int_t)page, "pageSize", (json_int_t)size);
	json_decref(count);
	return req->data ? 0 : E_SERVER;
}
