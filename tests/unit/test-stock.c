/* test-stock.c - stock.h against a real MariaDB and Redis: guarded takes, races, uncache. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "db.h"
#include "stock.h"
#include "unit.h"

/* Concurrent takers in the race tests. */
#define RACERS 20

static struct fs_config cfg;
static struct db *db;
static struct cache *cache;

/* Connect to the test MariaDB and Redis. */
static void setup(void)
{
	unit_servers_config(&cfg, 300);
	db = db_new(&cfg);
	cache = cache_new(&cfg);
	ck_assert_ptr_nonnull(db);
	ck_assert_ptr_nonnull(cache);
}

/* Remove this run's products, disconnect, free the config. */
static void teardown(void)
{
	db_exec(db, "DELETE FROM flashsale_product.product WHERE title LIKE 'unit-stock %'", NULL);
	db_free(db);
	cache_free(cache);
	config_free(&cfg);
}

/* A new live product with this stock; its id. */
static long long product_new(long long stock)
{
	ck_assert_int_eq(
	    db_exec(db,
		    "INSERT INTO flashsale_product.product (title, info, price, stock, "
		    "status, create_time, update_time) VALUES (CONCAT('unit-stock ', ?), "
		    "'', 100, ?, 1, UNIX_TIMESTAMP(), UNIX_TIMESTAMP())",
		    "ii", (long long)getpid(), stock),
	    DB_OK);
	long long id = db_insert_id(db);
	ck_assert_int_gt(id, 0);
	return id;
}

/* The product's stock in MariaDB now. */
static long long stock_of(long long id)
{
	json_t *row;
	ck_assert_int_eq(db_query_row(db, &row,
				      "SELECT stock FROM flashsale_product.product WHERE id = ?",
				      "i", id),
			 DB_OK);
	ck_assert_ptr_nonnull(row);
	long long n = json_integer_value(json_object_get(row, "stock"));
	json_decref(row);
	return n;
}

/* Taking more than the stock changes nothing; taking all of it leaves zero. */
START_TEST(test_take_short)
{
	long long id = product_new(5);
	ck_assert_int_eq(stock_product_take(db, id, 6), STOCK_SHORT);
	ck_assert_int_eq(stock_of(id), 5);
	ck_assert_int_eq(stock_product_take(db, id, 0), STOCK_SHORT);
	ck_assert_int_eq(stock_product_take(db, id, -3), STOCK_SHORT);
	ck_assert_int_eq(stock_of(id), 5);
	ck_assert_int_eq(stock_product_take(db, id, 2), DB_OK);
	ck_assert_int_eq(stock_of(id), 3);
	ck_assert_int_eq(stock_product_take(db, id, 3), DB_OK);
	ck_assert_int_eq(stock_of(id), 0);
	ck_assert_int_eq(stock_product_take(db, id, 1), STOCK_SHORT);
	ck_assert_int_eq(stock_of(id), 0);
}
END_TEST

/* No such product, or a deleted one: STOCK_SHORT; returns still reach a deleted product. */
START_TEST(test_take_missing_and_deleted)
{
	long long id = product_new(4);
	ck_assert_int_eq(stock_product_take(db, id + 1000000, 1), STOCK_SHORT);
	ck_assert_int_eq(
	    db_exec(db, "UPDATE flashsale_product.product SET del_state = 1 WHERE id = ?", "i", id),
	    DB_OK);
	ck_assert_int_eq(stock_product_take(db, id, 1), STOCK_SHORT);
	ck_assert_int_eq(stock_of(id), 4);
	ck_assert_int_eq(stock_product_return(db, id, 2), DB_OK);
	ck_assert_int_eq(stock_of(id), 6);
	ck_assert_int_eq(stock_product_return(db, id + 1000000, 1), DB_ERR);
}
END_TEST

/* A take inside a rolled-back transaction leaves the stock as it was. */
START_TEST(test_take_rollback)
{
	long long id = product_new(3);
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(stock_product_take(db, id, 3), DB_OK);
	db_rollback(db);
	ck_assert_int_eq(stock_of(id), 3);
}
END_TEST

/*
 * RACERS processes, each on its own connection, released together, each take
 * n units; returns how many succeeded. A child exits 0 taken, 1 short, 2 error.
 */
static int race(long long id, long long n)
{
	int gate[2], ok = 0, errors = 0;
	pid_t pids[RACERS];
	ck_assert_int_eq(pipe(gate), 0);
	for (int i = 0; i < RACERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			char c;
			close(gate[1]);
			struct db *mine = db_new(&cfg);
			if (!mine || db_ping(mine) != DB_OK)
				_exit(2);
			(void)!read(gate[0], &c, 1); /* EOF when the parent opens the gate */
			int rc = stock_product_take(mine, id, n);
			_exit(rc == DB_OK ? 0 : rc == STOCK_SHORT ? 1 : 2);
		}
	}
	close(gate[0]);
	unit_sleep_ms(300); /* let every child connect */
	close(gate[1]);
	for (int i = 0; i < RACERS; i++) {
		int st;
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert(WIFEXITED(st));
		if (WEXITSTATUS(st) == 0)
			ok++;
		else if (WEXITSTATUS(st) != 1)
			errors++;
	}
	ck_assert_int_eq(errors, 0);
	return ok;
}

/* 20 concurrent takes of 1 from a stock of 7: exactly 7 succeed, stock ends at 0. */
START_TEST(test_race_units)
{
	long long id = product_new(7);
	ck_assert_int_eq(race(id, 1), 7);
	ck_assert_int_eq(stock_of(id), 0);
}
END_TEST

/* 20 concurrent takes of 3 from a stock of 10: exactly 3 succeed, 1 unit is left. */
START_TEST(test_race_batches)
{
	long long id = product_new(10);
	ck_assert_int_eq(race(id, 3), 3);
	ck_assert_int_eq(stock_of(id), 1);
}
END_TEST

/* uncache drops the cached detail and bumps the generation; the keys share a hash tag. */
START_TEST(test_uncache)
{
	char key[48], gen[56];
	long long id = product_new(1);
	stock_product_cache_key(key, sizeof key, id);
	stock_product_gen_key(gen, sizeof gen, id);
	ck_assert_ptr_nonnull(strstr(key, "{"));
	ck_assert_int_eq(strncmp(key, gen, strlen(key)), 0);
	redisReply *r = cache_command(cache, "SET %s %s", key, "{\"id\":1}");
	ck_assert_ptr_nonnull(r);
	freeReplyObject(r);
	r = cache_command(cache, "DEL %s", gen);
	freeReplyObject(r);
	ck_assert_int_eq(stock_product_uncache(cache, id), 0);
	r = cache_command(cache, "EXISTS %s", key);
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	r = cache_command(cache, "GET %s", gen);
	ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
	ck_assert_str_eq(r->str, "1");
	freeReplyObject(r);
	ck_assert_int_eq(stock_product_uncache(cache, id), 0);
	r = cache_command(cache, "GET %s", gen);
	ck_assert_str_eq(r->str, "2");
	freeReplyObject(r);
	r = cache_command(cache, "TTL %s", gen);
	ck_assert_int_gt(r->integer, 3600);
	freeReplyObject(r);
	r = cache_command(cache, "DEL %s", gen);
	freeReplyObject(r);
}
END_TEST

/* The suite of this file. */
static Suite *stock_suite(void)
{
	Suite *s = suite_create("stock");
	TCase *tc = tcase_create("mariadb+redis");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_take_short);
	tcase_add_test(tc, test_take_missing_and_deleted);
	tcase_add_test(tc, test_take_rollback);
	tcase_add_test(tc, test_race_units);
	tcase_add_test(tc, test_race_batches);
	tcase_add_test(tc, test_uncache);
	suite_add_tcase(s, tc);
	return s;
}

/* Needs the test stack's servers (with the product schema migrated); skips without them. */
int main(void)
{
	unit_require("test-stock", "FLASHSALE_TEST_MYSQL_SOCKET");
	unit_require("test-stock", "FLASHSALE_TEST_REDIS_SOCKET");
	unit_clear_config_env();
	signal(SIGPIPE, SIG_IGN);
	return unit_status("test-stock", unit_run(stock_suite()), NULL);
}
