/* template-read.c - the claimable templates (coupon centre), with what is left of each. */
#include <stdlib.h>
#include <time.h>

#include "coupon-fcgi.h"

/* A template as the API names it (kind as a word; productIds as an array, below). */
#define TEMPLATE_COLUMNS                                                                           \
	"SELECT id, title, IF(kind = 1, 'amount', 'discount') AS kind, amount, percent, "          \
	"max_discount AS maxDiscount, min_spend AS minSpend, total, total - issued AS remaining, " \
	"per_user_limit AS perUserLimit, valid_from AS validFrom, valid_to AS validTo, "           \
	"valid_days AS validDays, product_ids AS productIds, flash, start_time AS startTime "      \
	"FROM flashsale_coupon.template "

/* Remaining coupons of a flash template: Redis while loaded (claims not yet written count). */
static void template_remaining(struct app *app, json_t *row, long long id)
{
	char key[64];
	coupon_key(key, sizeof key, id, "left");
	redisReply *r = cache_command(app->cache, "GET %s", key);
	if (r && r->type == REDIS_REPLY_STRING) {
		long long left = strtoll(r->str, NULL, 10);
		json_object_set_new(row, "remaining", json_integer(left < 0 ? 0 : left));
	}
	if (r)
		freeReplyObject(r);
}

json_t *coupon_product_list(const char *s)
{
	json_t *a = json_array();
	while (a && s && *s) {
		char *end;
		long long v = strtoll(s, &end, 10);
		if (end == s)
			break;
		json_array_append_new(a, json_integer(v));
		s = *end == ',' ? end + 1 : end;
	}
	return a;
}

/* Finish a row for the API. */
static void template_finish(struct app *app, json_t *row)
{
	long long id = json_integer_value(json_object_get(row, "id"));
	int flash = json_integer_value(json_object_get(row, "flash")) != 0;
	json_object_set_new(row, "flash", json_boolean(flash));
	json_object_set_new(
	    row, "productIds",
	    coupon_product_list(json_string_value(json_object_get(row, "productIds"))));
	if (flash)
		template_remaining(app, row, id);
}

int coupon_template_list(struct app *app, struct http_req *req)
{
	long long page = 1, size = 20, now = (long long)time(NULL);
	json_t *rows = NULL, *row;
	size_t i;
	int rc;

	if ((rc = param_int(req, "page", 0, 1, 100000, &page)) ||
	    (rc = param_int(req, "pageSize", 0, 1, 100, &size)))
		return rc;
	rc = db_query(app->db, &rows,
		      TEMPLATE_COLUMNS "WHERE status = 0 AND (valid_days > 0 OR valid_to > ?) "
				       "ORDER BY id DESC LIMIT ? OFFSET ?",
		      "iii", now, size, (page - 1) * size);
	if (rc)
		return coupon_code_of(req, rc, NULL);
	json_array_foreach(rows, i, row) template_finish(app, row);
	req->data = json_pack("{s:o,s:I}", "list", rows, "serverTime", (json_int_t)now);
	return req->data ? 0 : E_SERVER;
}
