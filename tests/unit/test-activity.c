/* test-activity.c - activity.h: keys, reasons, markers; load, close and units back (servers). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activity.h"
#include "unit-shop.h"

/* Keys carry the activity's hash tag. */
START_TEST(test_key)
{
	char k[64];
	ck_assert_int_eq(activity_key(k, sizeof k, 42, AK_STOCK, NULL), 0);
	ck_assert_str_eq(k, "{a:42}:stock");
	ck_assert_int_eq(activity_key(k, sizeof k, 42, AK_REQ, "42-ab"), 0);
	ck_assert_str_eq(k, "{a:42}:req:42-ab");
	ck_assert_int_eq(activity_key(k, sizeof k, 42, AK_RL, "7"), 0);
	ck_assert_str_eq(k, "{a:42}:rl:7");
	ck_assert_int_eq(activity_key(k, sizeof k, 42, AK_REVOKED, "ignored"), 0);
	ck_assert_str_eq(k, "{a:42}:revoked");
	ck_assert_int_eq(activity_key(k, 8, 123456, AK_USERS, NULL),
			 -1); /* truncated, no overrun */
	ck_assert_uint_eq(strlen(k), 7);
}
END_TEST

/* The failure reasons clients compare whole (API.md): these strings never change. */
START_TEST(test_reasons)
{
	ck_assert_str_eq(seckill_reason_str(REASON_ACTIVITY_NOT_FOUND), "activity not found");
	ck_assert_str_eq(seckill_reason_str(REASON_ACTIVITY_CLOSED), "activity closed");
	ck_assert_str_eq(seckill_reason_str(REASON_SOLD_OUT), "sold out");
	ck_assert_str_eq(seckill_reason_str(REASON_LIMIT_REACHED), "purchase limit reached");
	ck_assert_str_eq(seckill_reason_str(REASON_MALFORMED), "malformed intent");
	ck_assert_str_eq(seckill_reason_str(REASON_UNWRITABLE), "order could not be written");
	ck_assert_str_eq(seckill_reason_str(REASON_NONE), "");
	ck_assert_str_eq(seckill_reason_str(REASON_COUNT), "");
	ck_assert_str_eq(seckill_reason_str(-1), "");
}
END_TEST

/* Sold-out markers: set creates <dir>/<id>, clear removes it, both idempotent. */
START_TEST(test_markers)
{
	char dir[] = "/tmp/fs-marker-XXXXXX", path[64];
	struct stat st;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/77", dir);
	ck_assert_int_eq(activity_marker_set(dir, 77), 0);
	ck_assert_int_eq(activity_marker_set(dir, 77), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(activity_marker_clear(dir, 77), 0);
	ck_assert_int_eq(activity_marker_clear(dir, 77), 0);
	ck_assert_int_ne(stat(path, &st), 0);
	rmdir(dir);
}
END_TEST

/* The remaining units of an activity in Redis, or -1. */
static long long redis_stock(long long aid)
{
	char k[64];
	activity_key(k, sizeof k, aid, AK_STOCK, NULL);
	redisReply *r = cache_command(cache, "GET %s", k);
	long long v = r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
	if (r)
		freeReplyObject(r);
	return v;
}

/* Load once (never over live state), close once: unsold units go back to the product. */
START_TEST(test_load_close)
{
	long long pid = shop_product(10), aid = shop_activity(pid, 5, 2), unsold = -1;
	ck_assert_int_eq(activity_cache_load(db, cache, aid), DB_CHANGED);
	ck_assert_int_eq(redis_stock(aid), 3);
	ck_assert_int_eq(activity_cache_load(db, cache, aid), DB_UNCHANGED);
	ck_assert_int_eq(activity_cache_load(db, cache, 999999999), DB_NOT_FOUND);

	ck_assert_int_eq(activity_close(db, cache, aid, ACTIVITY_CANCELLED, &unsold), DB_CHANGED);
	ck_assert_int_eq(unsold, 3);
	ck_assert_int_eq(redis_stock(aid), 0);
	ck_assert_int_eq(shop_int("SELECT stock FROM flashsale_product.product WHERE id = ?", pid),
			 13);
	ck_assert_int_eq(activity_close(db, cache, aid, ACTIVITY_ENDED, &unsold), DB_UNCHANGED);
	ck_assert_int_eq(shop_int("SELECT stock FROM flashsale_product.product WHERE id = ?", pid),
			 13);
	ck_assert_int_eq(activity_close(db, cache, 999999999, ACTIVITY_ENDED, &unsold),
			 DB_NOT_FOUND);
}
END_TEST

/* Units back in MySQL: sold and the quota drop (a quota too small is left, never negative);
 * after a close they go on to the product. */
START_TEST(test_return_db)
{
	long long pid = shop_product(0), aid = shop_activity(pid, 5, 3), uid = 424242, unsold;
	ck_assert_int_eq(db_exec(db,
				 "INSERT INTO flashsale_seckill.user_quota (activity_id, user_id, "
				 "units) VALUES (?, ?, 2)",
				 "ii", aid, uid),
			 DB_OK);
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(activity_return_db(db, aid, uid, 2), DB_OK);
	ck_assert_int_eq(db_commit(db), DB_OK);
	ck_assert_int_eq(shop_int("SELECT sold FROM flashsale_seckill.activity WHERE id = ?", aid),
			 1);
	ck_assert_int_eq(
	    shop_int("SELECT units FROM flashsale_seckill.user_quota WHERE activity_id = ?", aid),
	    0);
	ck_assert_int_eq(activity_close(db, cache, aid, ACTIVITY_ENDED, &unsold), DB_CHANGED);
	ck_assert_int_eq(unsold, 4);
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(activity_return_db(db, aid, uid, 1), DB_OK); /* quota 0: left at 0 */
	ck_assert_int_eq(db_commit(db), DB_OK);
	ck_assert_int_eq(
	    shop_int("SELECT units FROM flashsale_seckill.user_quota WHERE activity_id = ?", aid),
	    0);
	ck_assert_int_eq(shop_int("SELECT sold FROM flashsale_seckill.activity WHERE id = ?", aid),
			 0);
	ck_assert_int_eq(shop_int("SELECT stock FROM flashsale_product.product WHERE id = ?", pid),
			 5);
	/* more than were sold: refused, nothing changes */
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_ne(activity_return_db(db, aid, uid, 1), DB_OK);
	db_rollback(db);
	ck_assert_int_eq(shop_int("SELECT stock FROM flashsale_product.product WHERE id = ?", pid),
			 5);
	ck_assert_int_eq(activity_return_db(db, aid, uid, 0), DB_OK); /* nothing to do */
}
END_TEST

/* Needs the test stack's servers (schemas migrated); skips without them. */
int main(void)
{
	const TTest *tests[] = {test_key,        test_reasons,   test_markers,
				test_load_close, test_return_db, NULL};
	unit_require_servers("test-activity");
	return unit_status("test-activity",
			   unit_run(unit_suite("activity", shop_setup, shop_teardown, tests)),
			   NULL);
}
