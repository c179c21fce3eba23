/* unit-shop.h - rows of the test stack's schemas for the activity and orders suites. */
#ifndef FS_UNIT_SHOP_H
#define FS_UNIT_SHOP_H

#include <jansson.h>

#include "cache.h"
#include "db.h"
#include "unit.h"

static struct fs_config cfg;
static struct db *db;
static struct cache *cache;

/* Connect to the test MariaDB and Redis. */
static inline void shop_setup(void)
{
	unit_servers_config(&cfg, 300);
	db = db_new(&cfg);
	cache = cache_new(&cfg);
	ck_assert_ptr_nonnull(db);
	ck_assert_ptr_nonnull(cache);
}

/* Disconnect and free the config. */
static inline void shop_teardown(void)
{
	db_free(db);
	cache_free(cache);
	config_free(&cfg);
}

/* One integer a query answers (first column of the first row), or -1 with no row. */
static inline long long shop_int(const char *sql, long long id)
{
	json_t *row = NULL;
	ck_assert_int_eq(db_query_row(db, &row, sql, "i", id), DB_OK);
	if (!row)
		return -1;
	long long v = json_integer_value(json_object_iter_value(json_object_iter(row)));
	json_decref(row);
	return v;
}

/* A live product with this stock; its id. */
static inline long long shop_product(long long stock)
{
	ck_assert_int_eq(
	    db_exec(db,
		    "INSERT INTO flashsale_product.product (title, info, price, stock, "
		    "status, create_time, update_time) VALUES ('unit-shop', '', 100, ?, "
		    "1, UNIX_TIMESTAMP(), UNIX_TIMESTAMP())",
		    "i", stock),
	    DB_OK);
	return db_insert_id(db);
}

/* A live activity of product pid holding stock units (sold so far: sold); its id. */
static inline long long shop_activity(long long pid, long long stock, long long sold)
{
	ck_assert_int_eq(
	    db_exec(db,
		    "INSERT INTO flashsale_seckill.activity (product_id, title, price, "
		    "seckill_price, stock, sold, per_user_limit, start_time, end_time, status, "
		    "create_time, update_time) VALUES (?, 'unit-shop', 100, 50, ?, ?, 2, "
		    "UNIX_TIMESTAMP() - 10, UNIX_TIMESTAMP() + 3600, 0, UNIX_TIMESTAMP(), "
		    "UNIX_TIMESTAMP())",
		    "iii", pid, stock, sold),
	    DB_OK);
	return db_insert_id(db);
}

/* A waiting order sn of user uid: qty units of product pid (activity aid, 0 = normal). */
static inline void shop_order(const char *sn, long long uid, long long pid, long long aid,
			      long long qty)
{
	ck_assert_int_eq(
	    db_exec(db,
		    "INSERT INTO flashsale_order.orders (sn, user_id, product_id, activity_id, "
		    "order_type, quantity, unit_price, total_price, trade_state, pay_deadline, "
		    "create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, 100, 100 * ?, 0, "
		    "UNIX_TIMESTAMP() + 900, UNIX_TIMESTAMP(), UNIX_TIMESTAMP())",
		    "siiiiii", sn, uid, pid, aid, (long long)(aid ? 1 : 0), qty, qty),
	    DB_OK);
}

#endif
