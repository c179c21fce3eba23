/* eligibility.c - who may have a seckill token: reservations, account age, verified mobile,
 * blocklist and the cap of accounts per client address; and /activity/reserve. */
#include <time.h>

#include "activity.h"
#include "guard.h"
#include "log.h"
#include "seckill.h"

/* The caller's account: mobile, creation and verification times. 0 or an API code. */
static int eligible_account(struct app *app, struct http_req *req, json_t **user)
{
	int rc = db_query_row(app->db, user,
			      "SELECT mobile, create_time, mobile_verified FROM "
			      "flashsale_usercenter.user WHERE id = ? AND del_state = 0",
			      "i", req->claims.user_id);
	if (rc)
		return err_from_db(rc);
	if (!*user)
		return http_fail(req, E_NOT_ELIGIBLE, "account not found");
	return 0;
}

int seckill_eligible(struct app *app, struct http_req *req, long long aid,
		     const struct guard_rules *rules)
{
	json_t *user = NULL;
	char what[16];
	long long uid = req->claims.user_id;
	int rc = eligible_account(app, req, &user);
	if (rc)
		return rc;
	const char *mobile = json_string_value(json_object_get(user, "mobile"));
	long long created = json_integer_value(json_object_get(user, "create_time"));
	long long verified = json_integer_value(json_object_get(user, "mobile_verified"));

	int blocked =
	    guard_blocked(app->db, app->cache, uid, mobile, req->remote_addr, what, sizeof what);
	if (blocked < 0) {
		rc = seckill_guard_err(blocked);
		goto out;
	}
	if (blocked) {
		rc = http_fail(req, E_NOT_ELIGIBLE, "blocked (%s)", what);
		goto out;
	}
	if (rules->min_age > 0 && created > rules->start - rules->min_age) {
		rc = http_fail(req, E_NOT_ELIGIBLE,
			       "account too new: it must exist %lld s before the start",
			       rules->min_age);
		goto out;
	}
	if (rules->verified && verified <= 0) {
		rc = http_fail(req, E_NOT_ELIGIBLE, "a verified mobile is required");
		goto out;
	}
	if (rules->reservation) {
		int held = guard_reserved(app->db, app->cache, rules, aid, uid);
		if (held < 0) {
			rc = seckill_guard_err(held);
			goto out;
		}
		if (!held) {
			rc = http_fail(req, E_RESERVATION, "reservation required");
			goto out;
		}
	}
	/* Last: it counts the account against the address, so only a token it allows counts. */
	if (rules->addr_cap > 0) {
		int took = guard_address_take(app->cache, rules, aid, req->remote_addr, uid);
		if (took < 0) {
			rc = E_DB_BUSY;
			goto out;
		}
		if (!took) {
			rc = http_fail(req, E_NOT_ELIGIBLE,
				       "address cap: %lld accounts per address have tokens",
				       rules->addr_cap);
			goto out;
		}
	}
out:
	json_decref(user);
	return rc;
}

/* In one transaction: the reservation row and the activity's count. 0 or an API code. */
static int reserve_insert(struct app *app, long long aid, long long uid)
{
	int rc = db_begin(app->db);
	if (rc)
		return err_from_db(rc);
	rc = db_exec(app->db,
		     "INSERT IGNORE INTO flashsale_seckill.reservation (activity_id, user_id, "
		     "create_time) VALUES (?, ?, UNIX_TIMESTAMP())",
		     "ii", aid, uid);
	if (!rc && db_affected_rows(app->db) == 1)
		rc = db_exec(app->db,
			     "UPDATE flashsale_seckill.activity SET reserved = reserved + 1 "
			     "WHERE id = ?",
			     "i", aid);
	if (!rc)
		rc = db_commit(app->db);
	if (rc) {
		db_rollback(app->db);
		return err_from_db(rc);
	}
	return 0;
}

int seckill_activity_reserve(struct app *app, struct http_req *req)
{
	json_t *row = NULL;
	long long aid;
	int rc = param_int(req, "activityId", 1, 1, (long long)1 << 53, &aid);
	if (rc)
		return rc;
	rc = db_query_row(app->db, &row,
			  "SELECT require_reservation, start_time, end_time, status FROM "
			  "flashsale_seckill.activity WHERE id = ?",
			  "i", aid);
	if (rc)
		return err_from_db(rc);
	if (!row)
		return E_ACTIVITY_NOT_FOUND;
	long long need = json_integer_value(json_object_get(row, "require_reservation"));
	long long start = json_integer_value(json_object_get(row, "start_time"));
	long long status = json_integer_value(json_object_get(row, "status"));
	json_decref(row);
	if (status == ACTIVITY_CANCELLED)
		return http_fail(req, E_ACTIVITY_ENDED, "activity cancelled");
	if (status != ACTIVITY_LIVE)
		return E_ACTIVITY_ENDED;
	if (!need)
		return http_fail(req, E_PARAM, "activityId: this activity takes no reservations");
	if ((long long)time(NULL) >= start)
		return http_fail(req, E_PARAM, "activityId: reservations closed at the start");
	rc = reserve_insert(app, aid, req->claims.user_id);
	if (rc)
		return rc;
	if (guard_reservation_add(app->cache, aid, req->claims.user_id) < 0)
		log_warn("activity %lld: reservation of user %lld not in Redis yet (preheat "
			 "reloads it)",
			 aid, req->claims.user_id);
	return 0;
}
