/* activity-read.c - activity list and detail: MySQL rows with the live remaining from Redis. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activity.h"
#include "seckill.h"

/* Columns of an activity as the API names them (internal counts dropped after use). */
#define ACTIVITY_COLUMNS                                                                           \
	"SELECT id, product_id AS productId, title, cover, price, seckill_price AS seckillPrice, " \
	"stock, sold, returned, per_user_limit AS perUserLimit, start_time AS startTime, "         \
	"end_time AS endTime, status, require_reservation AS requireReservation, reserved, "       \
	"pow_difficulty AS powDifficulty, min_account_age AS minAccountAge, "                      \
	"max_accounts_per_address AS maxAccountsPerAddress, "                                      \
	"require_verified_mobile AS requireVerifiedMobile FROM flashsale_seckill.activity "

/* Remaining units: Redis while the activity is live and loaded, else MySQL's count. */
static long long activity_remaining(struct app *app, json_t *row, long long id, long long st)
{
	long long mysql_left = json_integer_value(json_object_get(row, "stock")) -
			       json_integer_value(json_object_get(row, "sold")) -
			       json_integer_value(json_object_get(row, "returned"));
	char key[64];

	if (st != ACTIVITY_LIVE)
		return 0;
	activity_key(key, sizeof key, id, AK_STOCK, NULL);
	redisReply *r = cache_command(app->cache, "GET %s", key);
	long long left = mysql_left;
	if (r && r->type == REDIS_REPLY_STRING)
		left = strtoll(r->str, NULL, 10);
	if (r)
		freeReplyObject(r);
	return left < 0 ? 0 : left;
}

/* Turn a row into the API's activity: remaining and a status word. */
static void activity_finish(struct app *app, json_t *row, long long now)
{
	long long id = json_integer_value(json_object_get(row, "id"));
	long long st = json_integer_value(json_object_get(row, "status"));
	long long start = json_integer_value(json_object_get(row, "startTime"));
	long long end = json_integer_value(json_object_get(row, "endTime"));
	long long left = activity_remaining(app, row, id, st);
	const char *word;

	if (st == ACTIVITY_CANCELLED)
		word = "cancelled";
	else if (st == ACTIVITY_ENDED || now >= end)
		word = "ended";
	else if (now < start)
		word = "upcoming";
	else if (left == 0)
		word = "soldout";
	else
		word = "ongoing";
	json_object_set_new(row, "remaining", json_integer(left));
	json_object_set_new(
	    row, "requireReservation",
	    json_boolean(json_integer_value(json_object_get(row, "requireReservation"))));
	json_object_set_new(
	    row, "requireVerifiedMobile",
	    json_boolean(json_integer_value(json_object_get(row, "requireVerifiedMobile"))));
	json_object_set_new(row, "status", json_string(word));
	json_object_del(row, "sold");
	json_object_del(row, "returned");
}

int seckill_activity_list(struct app *app, struct http_req *req)
{
	const char *which = NULL;
	json_t *rows = NULL;
	long long now = (long long)time(NULL), page = 1, size = 100;
	int rc;
	if ((rc = param_str(req, "status", 0, 1, 16, &which)) ||
	    (rc = param_int(req, "page", 0, 1, 1000000, &page)) ||
	    (rc = param_int(req, "pageSize", 0, 1, 100, &size)))
		return rc;
	long long skip = (page - 1) * size;
	if (!which)
		rc = db_query(db_reader(app->db), &rows,
			      ACTIVITY_COLUMNS "WHERE status = 0 AND end_time > ? "
					       "ORDER BY start_time, id LIMIT ? OFFSET ?",
			      "iii", now, size, skip);
	else if (!strcmp(which, "upcoming"))
		rc = db_query(db_reader(app->db), &rows,
			      ACTIVITY_COLUMNS "WHERE status = 0 AND start_time > ? "
					       "ORDER BY start_time, id LIMIT ? OFFSET ?",
			      "iii", now, size, skip);
	else if (!strcmp(which, "ongoing"))
		rc = db_query(db_reader(app->db), &rows,
			      ACTIVITY_COLUMNS
			      "WHERE status = 0 AND start_time <= ? AND end_time > ? "
			      "ORDER BY start_time, id LIMIT ? OFFSET ?",
			      "iiii", now, now, size, skip);
	else if (!strcmp(which, "ended"))
		rc = db_query(db_reader(app->db), &rows,
			      ACTIVITY_COLUMNS "WHERE status <> 0 OR end_time <= ? "
					       "ORDER BY end_time DESC, id DESC LIMIT ? OFFSET ?",
			      "iii", now, size, skip);
	else if (!strcmp(which, "all"))
		rc = db_query(db_reader(app->db), &rows,
			      ACTIVITY_COLUMNS "ORDER BY id DESC LIMIT ? OFFSET ?", "ii", size,
			      skip);
	else
		return http_fail(req, E_PARAM, "status must be upcoming, ongoing, ended or all");
	if (rc)
		return err_from_db(rc);
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) activity_finish(app, row, now);
	req->data = json_pack("{s:o,s:I,s:I,s:I}", "list", rows, "serverTime", (json_int_t)now,
			      "page", (json_int_t)page, "pageSize", (json_int_t)size);
	return req->data ? 0 : E_SERVER;
}

int seckill_activity_detail(struct app *app, struct http_req *req)
{
	long long id, now = (long long)time(NULL);
	json_t *row = NULL;
	int rc = param_int(req, "id", 1, 1, (long long)1 << 53, &id);
	if (rc)
		return rc;
	rc = db_query_row(db_reader(app->db), &row, ACTIVITY_COLUMNS "WHERE id = ?", "i", id);
	if (rc)
		return err_from_db(rc);
	if (!row)
		return E_ACTIVITY_NOT_FOUND;
	activity_finish(app, row, now);
	req->data = json_pack("{s:o,s:I}", "activity", row, "serverTime", (json_int_t)now);
	return req->data ? 0 : E_SERVER;
}
