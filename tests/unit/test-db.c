/* test-db.c - db.h against a real MariaDB: params, JSON rows, duplicates, transactions, breaker. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "unit.h"

#define T "flashsale_unittest.t"

#define INSERT_SQL "INSERT INTO " T " (k, n, s, note) VALUES (?, ?, ?, ?)"
#define SELECT_K   "SELECT id, k, n, s, note FROM " T " WHERE k = ?"

static struct fs_config cfg;
static struct db *db;

/* Connect a handle to the test server. */
static void setup(void)
{
	unit_mysql_config(&cfg, 800);
	db = db_new(&cfg);
	ck_assert_ptr_nonnull(db);
}

/* Close the handle and free the config. */
static void teardown(void)
{
	db_free(db);
	db = NULL;
	config_free(&cfg);
}

/* Number of rows with key k, through a handle. */
static long long count_k(struct db *h, const char *k)
{
	json_t *row;
	ck_assert_int_eq(
	    db_query_row(h, &row, "SELECT COUNT(*) AS c FROM " T " WHERE k = ?", "s", k), DB_OK);
	ck_assert_ptr_nonnull(row);
	json_t *c = json_object_get(row, "c");
	ck_assert_msg(json_is_integer(c), "COUNT(*) is not a JSON integer");
	long long n = json_integer_value(c);
	json_decref(row);
	return n;
}

/* The connection id of a handle's current connection. */
static long long connection_id(struct db *h)
{
	json_t *row;
	ck_assert_int_eq(db_query_row(h, &row, "SELECT CONNECTION_ID() AS id", NULL), DB_OK);
	long long id = json_integer_value(json_object_get(row, "id"));
	json_decref(row);
	ck_assert_int_gt(id, 0);
	return id;
}

/* Kill connection id from a second handle. */
static void kill_connection(long long id)
{
	static char sql[64];
	struct db *other = db_new(&cfg);
	snprintf(sql, sizeof sql, "KILL %lld", id);
	ck_assert_int_eq(db_exec(other, sql, NULL), DB_OK);
	db_free(other);
	unit_sleep_ms(50);
}

/* db_exec binds 'i' and 's' parameters, NULL as SQL NULL, metacharacters verbatim. */
START_TEST(test_insert_params)
{
	const char *evil = "x'; DROP TABLE t; --";
	json_t *row;
	ck_assert_int_eq(db_ping(db), DB_OK);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "params", 5LL, evil, NULL), DB_OK);
	ck_assert_int_eq(db_affected_rows(db), 1);
	long long id = db_insert_id(db);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(db_query_row(db, &row, SELECT_K, "s", "params"), DB_OK);
	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "id")), id);
	ck_assert_str_eq(json_string_value(json_object_get(row, "s")), evil);
	ck_assert(json_is_null(json_object_get(row, "note")));
	ck_assert_int_eq(json_integer_value(json_object_get(row, "n")), 5);
	json_decref(row);

	/* quotes, backslashes and a second statement stay data too */
	const char *evil2 = "a\\' OR '1'='1\"; DELETE FROM " T "; --";
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "params2", -1LL, NULL, evil2), DB_OK);
	ck_assert_int_eq(db_query_row(db, &row, SELECT_K, "s", "params2"), DB_OK);
	ck_assert_str_eq(json_string_value(json_object_get(row, "note")), evil2);
	ck_assert(json_is_null(json_object_get(row, "s")));
	json_decref(row);
	ck_assert_int_eq(count_k(db, "params"), 1);
}
END_TEST

/* Integer columns come back as JSON integers; DECIMAL, text, dates and NULL as strings/null. */
START_TEST(test_json_types)
{
	json_t *row;
	ck_assert_int_eq(db_exec(db,
				 "INSERT INTO " T " (k, n, big, tiny, s, price, created) "
				 "VALUES (?, ?, ?, ?, ?, ?, '2024-01-02 03:04:05')",
				 "siiiss", "types", -7LL, 9007199254740993LL, 1LL, "0123", "12.50"),
			 DB_OK);
	ck_assert_int_eq(db_query_row(db, &row,
				      "SELECT id, n, big, tiny, s, note, price, created, n + 1 AS "
				      "next, COUNT(*) AS cnt FROM " T " WHERE k = ? GROUP BY id",
				      "s", "types"),
			 DB_OK);
	ck_assert_ptr_nonnull(row);
	const char *ints[] = {"id", "n", "big", "tiny", "next", "cnt"};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
		ck_assert_msg(json_is_integer(json_object_get(row, ints[i])),
			      "%s is not a JSON integer", ints[i]);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "n")), -7);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "big")), 9007199254740993LL);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "tiny")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "next")), -6);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "cnt")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(row, "s")), "0123");
	ck_assert_str_eq(json_string_value(json_object_get(row, "price")), "12.50");
	ck_assert_str_eq(json_string_value(json_object_get(row, "created")), "2024-01-02 03:04:05");
	ck_assert(json_is_null(json_object_get(row, "note")));
	json_decref(row);
}
END_TEST

/* UTF-8 text (Chinese, emoji) and long values round-trip. */
START_TEST(test_utf8_and_long)
{
	json_t *row;
	const char *text = "限时秒杀 🎉 手机";
	char *longtext = malloc(20001);
	memset(longtext, 'z', 20000);
	longtext[20000] = '\0';
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "utf8", 1LL, text, longtext), DB_OK);
	ck_assert_int_eq(db_query_row(db, &row, SELECT_K, "s", "utf8"), DB_OK);
	ck_assert_str_eq(json_string_value(json_object_get(row, "s")), text);
	ck_assert_str_eq(json_string_value(json_object_get(row, "note")), longtext);
	json_decref(row);
	free(longtext);
}
END_TEST

/* db_query returns every row in order; no rows is an empty array. */
START_TEST(test_query_rows)
{
	json_t *rows;
	for (long long i = 3; i >= 1; i--) {
		char k[32];
		snprintf(k, sizeof k, "rows-%lld", i);
		ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", k, i, "r", NULL), DB_OK);
	}
	ck_assert_int_eq(
	    db_query(db, &rows, "SELECT k, n FROM " T " WHERE k LIKE ? ORDER BY n", "s", "rows-%"),
	    DB_OK);
	ck_assert(json_is_array(rows));
	ck_assert_uint_eq(json_array_size(rows), 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rows, i), "n")),
				 (long long)i + 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "k")),
			 "rows-1");
	json_decref(rows);
	ck_assert_int_eq(db_query(db, &rows, "SELECT k FROM " T " WHERE k = ?", "s", "nothing"),
			 DB_OK);
	ck_assert(json_is_array(rows));
	ck_assert_uint_eq(json_array_size(rows), 0);
	json_decref(rows);
}
END_TEST

/* db_query_row gives NULL when no row matches, the first row when several do. */
START_TEST(test_query_row)
{
	json_t *row = json_object();
	ck_assert_int_eq(db_query_row(db, &row, SELECT_K, "s", "no-such-key"), DB_OK);
	ck_assert_ptr_null(row);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "row-a", 1LL, "a", NULL), DB_OK);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "row-b", 2LL, "b", NULL), DB_OK);
	ck_assert_int_eq(db_query_row(db, &row,
				      "SELECT s FROM " T " WHERE k IN (?, ?) ORDER BY n DESC", "ss",
				      "row-a", "row-b"),
			 DB_OK);
	ck_assert_ptr_nonnull(row);
	ck_assert_str_eq(json_string_value(json_object_get(row, "s")), "b");
	json_decref(row);
}
END_TEST

/* A unique key violation is DB_DUP, and the connection stays usable. */
START_TEST(test_dup)
{
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "dup", 1LL, "first", NULL), DB_OK);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "dup", 2LL, "second", NULL), DB_DUP);
	ck_assert_int_eq(count_k(db, "dup"), 1);
	ck_assert_int_eq(db_ping(db), DB_OK);
}
END_TEST

/* UPDATE reports the rows it changed. */
START_TEST(test_affected_rows)
{
	for (int i = 0; i < 3; i++) {
		char k[32];
		snprintf(k, sizeof k, "upd-%d", i);
		ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", k, 10LL, "u", NULL), DB_OK);
	}
	ck_assert_int_eq(db_exec(db, "UPDATE " T " SET n = n + 1 WHERE k LIKE ?", "s", "upd-%"),
			 DB_OK);
	ck_assert_int_eq(db_affected_rows(db), 3);
	ck_assert_int_eq(db_exec(db, "UPDATE " T " SET n = 0 WHERE k = ?", "s", "nope"), DB_OK);
	ck_assert_int_eq(db_affected_rows(db), 0);
}
END_TEST

/* begin + insert + rollback leaves nothing behind. */
START_TEST(test_rollback)
{
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "tx-rb", 1LL, "x", NULL), DB_OK);
	ck_assert_int_eq(count_k(db, "tx-rb"), 1); /* visible inside the transaction */
	db_rollback(db);
	ck_assert_int_eq(count_k(db, "tx-rb"), 0);
	struct db *other = db_new(&cfg);
	ck_assert_int_eq(count_k(other, "tx-rb"), 0);
	db_free(other);
}
END_TEST

/* begin + insert + commit keeps the row, visible from another connection. */
START_TEST(test_commit)
{
	struct db *other = db_new(&cfg);
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "tx-c", 1LL, "x", NULL), DB_OK);
	ck_assert_int_eq(count_k(other, "tx-c"), 0); /* not yet visible elsewhere */
	ck_assert_int_eq(db_commit(db), DB_OK);
	ck_assert_int_eq(count_k(db, "tx-c"), 1);
	ck_assert_int_eq(count_k(other, "tx-c"), 1);
	db_free(other);
}
END_TEST

/* Bad SQL, a wrong parameter count and an unknown type letter are DB_ERR, not DB_DOWN. */
START_TEST(test_errors)
{
	json_t *rows = NULL;
	ck_assert_int_eq(db_query(db, &rows, "SELEC nonsense FROM", NULL), DB_ERR);
	ck_assert_ptr_null(rows);
	ck_assert_uint_gt(strlen(db_last_error(db)), 0);
	ck_assert_int_eq(db_exec(db, "SELECT * FROM flashsale_unittest.no_such_table", NULL),
			 DB_ERR);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "si", "short", 1LL), DB_ERR);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "sisx", "x", 1LL, "x", "x"), DB_ERR);
	ck_assert_int_eq(count_k(db, "short"), 0);
	ck_assert_int_eq(db_ping(db), DB_OK);
}
END_TEST

/* Statements are cached by their text: the same buffer holding new SQL runs the new SQL. */
START_TEST(test_statement_cache_by_text)
{
	char sql[64];
	json_t *row;
	snprintf(sql, sizeof sql, "SELECT %d AS v", 1);
	ck_assert_int_eq(db_query_row(db, &row, sql, NULL), DB_OK);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "v")), 1);
	json_decref(row);
	snprintf(sql, sizeof sql, "SELECT %d AS w", 2);
	ck_assert_int_eq(db_query_row(db, &row, sql, NULL), DB_OK);
	ck_assert_msg(json_object_get(row, "w") != NULL,
		      "statement cached by pointer: the old SQL ran for new text");
	ck_assert_int_eq(json_integer_value(json_object_get(row, "w")), 2);
	json_decref(row);
}
END_TEST

/*
 * A dead socket is DB_DOWN within 3 s, the next call DB_DOWN at once without trying (the
 * path then leads to a live server), and after the cooldown a call connects.
 */
START_TEST(test_dead_socket_and_breaker)
{
	char dir[] = "/tmp/fs-unit-db-XXXXXX", sock[128];
	struct fs_config dead;
	json_t *row;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/mysql.sock", dir);
	unit_config(&dead, "[mysql]\nsocket = %s\nuser = root\n[breaker]\ncooldown_ms = 800\n",
		    sock);
	struct db *d = db_new(&dead);

	long long t0 = unit_now_ms();
	ck_assert_int_eq(db_query_row(d, &row, "SELECT 1 AS one", NULL), DB_DOWN);
	long long t1 = unit_now_ms();
	ck_assert_msg(t1 - t0 < 3000, "dead socket took %lld ms", t1 - t0);

	ck_assert_int_eq(symlink(unit_env("FLASHSALE_TEST_MYSQL_SOCKET"), sock), 0);
	ck_assert_int_eq(db_exec(d, "SELECT 1", NULL), DB_DOWN);
	ck_assert_int_eq(db_ping(d), DB_DOWN);
	long long t2 = unit_now_ms();
	ck_assert_msg(t2 - t1 < 100, "breaker answered after %lld ms", t2 - t1);
	ck_assert_uint_eq(db_reconnects(d), 0);

	unit_sleep_ms(900);
	ck_assert_int_eq(db_query_row(d, &row, "SELECT 1 AS one", NULL), DB_OK);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "one")), 1);
	json_decref(row);
	ck_assert_uint_eq(db_reconnects(d), 1);
	db_free(d);
	unlink(sock);
	rmdir(dir);
	config_free(&dead);
}
END_TEST

/* After the server kills the connection, the next statement runs on a fresh one. */
START_TEST(test_reconnect_after_kill)
{
	json_t *row;
	long long id = connection_id(db);
	ck_assert_int_eq(count_k(db, "kill"), 0); /* prepares a statement on the old link */
	kill_connection(id);
	/* the statement never reached the server: db.h promises one retry on a fresh link */
	int rc = db_query_row(db, &row, "SELECT COUNT(*) AS c FROM " T " WHERE k = ?", "s", "kill");
	ck_assert_int_eq(rc, DB_OK);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "c")), 0);
	json_decref(row);
	ck_assert_int_ne(connection_id(db), id);
	ck_assert_uint_eq(db_reconnects(db), 2);
}
END_TEST

/* A connection lost inside a transaction is DB_DOWN, never silently retried outside it. */
START_TEST(test_kill_in_transaction)
{
	long long id = connection_id(db);
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "tx-kill-1", 1LL, "x", NULL), DB_OK);
	kill_connection(id);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "tx-kill-2", 2LL, "x", NULL), DB_DOWN);
	db_rollback(db);
	ck_assert_int_eq(count_k(db, "tx-kill-1"), 0);
	ck_assert_int_eq(count_k(db, "tx-kill-2"), 0);
}
END_TEST

/* A computed value longer than any buffer guess comes back whole (no silent truncation). */
START_TEST(test_long_computed_value)
{
	json_t *row;
	ck_assert_int_eq(
	    db_query_row(db, &row, "SELECT REPEAT('x', ?) AS s, 7 AS n", "i", (long long)100000),
	    DB_OK);
	ck_assert_uint_eq(json_string_length(json_object_get(row, "s")), 100000);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "n")), 7);
	json_decref(row);
}
END_TEST

/*
 * A wait that runs out (the server busy past db_set_wait_ms) is DB_DOWN after one wait, not
 * retried, and opens the breaker at once; after the cooldown the handle works again.
 */
START_TEST(test_timeout_opens_breaker)
{
	json_t *row = NULL;
	connection_id(db); /* connected: what runs out below is a read */
	db_set_wait_ms(300);
	long long t0 = unit_now_ms();
	ck_assert_int_eq(db_query_row(db, &row, "SELECT SLEEP(3) AS s", NULL), DB_DOWN);
	long long took = unit_now_ms() - t0;
	ck_assert_int_ge(took, 250);
	ck_assert_int_lt(took, 600); /* a retry would have waited again */
	t0 = unit_now_ms();
	ck_assert_int_eq(db_query_row(db, &row, "SELECT 1 AS one", NULL), DB_DOWN); /* open */
	ck_assert_int_lt(unit_now_ms() - t0, 100);
	db_set_wait_ms(0);
	int rc = DB_DOWN;
	for (long long end = unit_now_ms() + 5000; rc != DB_OK && unit_now_ms() < end;) {
		rc = db_query_row(db, &row, "SELECT 1 AS one", NULL);
		if (rc != DB_OK)
			unit_sleep_ms(50);
	}
	ck_assert_int_eq(rc, DB_OK);
	json_decref(row);
}
END_TEST

/* A lock wait timeout (1205, class "deadlock") is DB_DOWN but keeps the connection. */
START_TEST(test_lock_wait_keeps_link)
{
	json_t *row;
	struct db *other = db_new(&cfg);
	ck_assert_int_eq(db_exec(db, INSERT_SQL, "siss", "locked", 1LL, "x", NULL), DB_OK);
	ck_assert_int_eq(db_exec(other, "SET SESSION innodb_lock_wait_timeout = 1", NULL), DB_OK);
	long long id = connection_id(other);
	ck_assert_int_eq(db_begin(db), DB_OK);
	ck_assert_int_eq(db_query_row(db, &row, SELECT_K " FOR UPDATE", "s", "locked"), DB_OK);
	json_decref(row);
	ck_assert_int_eq(db_exec(other, "UPDATE " T " SET n = 2 WHERE k = ?", "s", "locked"),
			 DB_DOWN);
	db_rollback(db);
	ck_assert_int_eq(connection_id(other), id); /* the same link, not a reconnect */
	ck_assert_uint_eq(db_reconnects(other), 1);
	db_free(other);
}
END_TEST

/* Run one setup statement; 0 or -1 with a message. */
static int admin_exec(struct db *h, const char *sql)
{
	if (db_exec(h, sql, NULL) == DB_OK)
		return 0;
	fprintf(stderr, "test-db: %s: %s\n", sql, db_last_error(h));
	return -1;
}

/* Create (or, with create 0, drop) the scratch database; 0 or -1. */
static int scratch_database(int create)
{
	struct fs_config c;
	char ini[512], err[256];
	snprintf(ini, sizeof ini, "[auth]\njwt_secret = %s\n[mysql]\nsocket = %s\nuser = root\n",
		 UNIT_JWT_SECRET, unit_env("FLASHSALE_TEST_MYSQL_SOCKET"));
	if (unit_config_text(&c, ini, err, sizeof err) < 0) {
		fprintf(stderr, "test-db: config: %s\n", err);
		return -1;
	}
	struct db *h = db_new(&c);
	int rc = admin_exec(h, "DROP DATABASE IF EXISTS flashsale_unittest");
	if (!rc && create)
		rc = admin_exec(h, "CREATE DATABASE flashsale_unittest CHARACTER SET utf8mb4");
	if (!rc && create)
		rc = admin_exec(h, "CREATE TABLE " T " ("
				   "id BIGINT AUTO_INCREMENT PRIMARY KEY, "
				   "k VARCHAR(64) NOT NULL UNIQUE, "
				   "n INT NULL, big BIGINT NULL, tiny TINYINT NULL, "
				   "s VARCHAR(255) NULL, note TEXT NULL, price DECIMAL(10,2) NULL, "
				   "created DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00'"
				   ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
	db_free(h);
	config_free(&c);
	return rc;
}

/* The suite of this file. */
static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("mariadb");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_insert_params);
	tcase_add_test(tc, test_json_types);
	tcase_add_test(tc, test_utf8_and_long);
	tcase_add_test(tc, test_query_rows);
	tcase_add_test(tc, test_query_row);
	tcase_add_test(tc, test_dup);
	tcase_add_test(tc, test_affected_rows);
	tcase_add_test(tc, test_rollback);
	tcase_add_test(tc, test_commit);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_statement_cache_by_text);
	tcase_add_test(tc, test_dead_socket_and_breaker);
	tcase_add_test(tc, test_reconnect_after_kill);
	tcase_add_test(tc, test_kill_in_transaction);
	tcase_add_test(tc, test_long_computed_value);
	tcase_add_test(tc, test_timeout_opens_breaker);
	tcase_add_test(tc, test_lock_wait_keeps_link);
	suite_add_tcase(s, tc);
	return s;
}

/* Create the scratch database, run the suite, drop it; skip without a MariaDB server. */
int main(void)
{
	unit_require("test-db", "FLASHSALE_TEST_MYSQL_SOCKET");
	unit_clear_config_env();
	signal(SIGPIPE, SIG_IGN); /* as http_main does */
	if (scratch_database(1) < 0)
		return EXIT_FAILURE;
	int failed = unit_run(db_suite());
	if (scratch_database(0) < 0)
		failed++;
	return unit_status("test-db", failed, NULL);
}
