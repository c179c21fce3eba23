/* test-db-replica.c - db_reader: mysql.replica parsing, fallbacks, and (with a real replica in
 * $FLASHSALE_TEST_MYSQL_REPLICA_SOCKET, the replica suite) where reads go around a write. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "metrics.h"
#include "unit.h"

#define READS "flashsale_mysql_replica_reads_total"

static struct fs_config cfg;
static struct db *db;
static char metrics_dir[] = "/tmp/fs-unit-replica-XXXXXX";

/* A handle on the test server with mysql.replica = replica ("" none). */
static struct db *open_with(const char *replica)
{
	unit_config(&cfg, "[mysql]\nsocket = %s\nuser = root\npassword =\nreplica = %s\n",
		    unit_env("FLASHSALE_TEST_MYSQL_SOCKET"), replica);
	return db_new(&cfg);
}

/* Free the handle and the config. */
static void teardown(void)
{
	db_free(db);
	db = NULL;
	config_free(&cfg);
}

/* A read counter by target (0 before the first read defines it). */
static long long reads(const char *target)
{
	char labels[32];
	snprintf(labels, sizeof labels, "target=\"%s\"", target);
	return metrics_get(metrics_find(READS, labels));
}

/* The answer of SELECT ? through h: the value came back. */
static void read_one(struct db *h, long long v)
{
	json_t *row;
	ck_assert_int_eq(db_query_row(h, &row, "SELECT ? AS v", "i", v), DB_OK);
	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "v")), v);
	json_decref(row);
}

/* Without mysql.replica the reader is the primary itself, and reads are not counted. */
START_TEST(test_no_replica)
{
	db = open_with("");
	ck_assert_ptr_nonnull(db);
	ck_assert_ptr_eq(db_reader(db), db);
	long long before = reads("primary");
	read_one(db_reader(db), 7);
	ck_assert_int_eq(reads("primary"), before);
}
END_TEST

/* An address that is neither a path nor host:port is refused at start-up. */
START_TEST(test_bad_address)
{
	db = open_with("nohost");
	ck_assert_ptr_null(db);
	config_free(&cfg);
	db = open_with("host:99999");
	ck_assert_ptr_null(db);
}
END_TEST

/* A dead replica: reads answer from the primary at once; writes through the reader land there. */
START_TEST(test_dead_replica)
{
	db = open_with("/nonexistent/replica.sock");
	ck_assert_ptr_nonnull(db);
	struct db *rd = db_reader(db);
	ck_assert_ptr_ne(rd, db);
	long long before = reads("primary"), t0 = unit_now_ms();
	for (int i = 0; i < 5; i++)
		read_one(rd, i);
	ck_assert_int_lt(unit_now_ms() - t0, 1500);
	ck_assert_int_eq(reads("primary") - before, 5);
	ck_assert_int_eq(
	    db_exec(rd,
		    "CREATE TEMPORARY TABLE flashsale_meta.rt (id INT AUTO_INCREMENT PRIMARY "
		    "KEY, v INT)",
		    NULL),
	    DB_OK);
	ck_assert_int_eq(db_exec(rd, "INSERT INTO flashsale_meta.rt (v) VALUES (?)", "i", 5LL),
			 DB_OK);
	ck_assert_int_eq(db_insert_id(rd), 1);
	ck_assert_int_eq(db_affected_rows(rd), 1);
	/* The temporary table lives on the primary's connection: the write went there. */
	json_t *row;
	ck_assert_int_eq(db_query_row(db, &row, "SELECT v FROM flashsale_meta.rt", NULL), DB_OK);
	ck_assert_int_eq(json_integer_value(json_object_get(row, "v")), 5);
	json_decref(row);
}
END_TEST

/* A server that replicates nothing (the primary's own socket) is never used as the replica. */
START_TEST(test_not_a_replica)
{
	db = open_with(unit_env("FLASHSALE_TEST_MYSQL_SOCKET"));
	ck_assert_ptr_nonnull(db);
	long long r0 = reads("replica"), p0 = reads("primary");
	read_one(db_reader(db), 3);
	read_one(db_reader(db), 4);
	ck_assert_int_eq(reads("replica"), r0);
	ck_assert_int_eq(reads("primary") - p0, 2);
}
END_TEST

/*
 * A real replica: reads go there; after the caller's own write they stay on the primary until
 * the next request begins; a transaction's reads too.
 */
START_TEST(test_read_after_write)
{
	db = open_with(unit_env("FLASHSALE_TEST_MYSQL_REPLICA_SOCKET"));
	ck_assert_ptr_nonnull(db);
	struct db *rd = db_reader(db);
	long long r0 = reads("replica"), p0 = reads("primary");
	read_one(rd, 1);
	ck_assert_int_eq(reads("replica") - r0, 1);
	ck_assert_int_eq(db_exec(db, "SET @x = ?", "i", 1LL), DB_OK);
	read_one(rd, 2);
	ck_assert_int_eq(reads("primary") - p0, 1);
	db_request_begin(db);
	read_one(rd, 3);
	ck_assert_int_eq(reads("replica") - r0, 2);
	ck_assert_int_eq(db_begin(rd), DB_OK);
	read_one(rd, 4);
	ck_assert_int_eq(db_commit(rd), DB_OK);
	ck_assert_int_eq(reads("primary") - p0, 2);
	ck_assert_int_eq(reads("replica") - r0, 2);
}
END_TEST

/* Metrics in a scratch directory, the suite, and with a replica a counted line for run-tests. */
int main(void)
{
	unit_require("test-db-replica", "FLASHSALE_TEST_MYSQL_SOCKET");
	unit_clear_config_env();
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(metrics_dir) || metrics_open(metrics_dir, "unit", 1) < 0)
		return EXIT_FAILURE;
	const TTest *const base[] = {test_no_replica, test_bad_address, test_dead_replica,
				     test_not_a_replica, NULL};
	const TTest *const with_replica[] = {test_read_after_write, NULL};
	int real = unit_env("FLASHSALE_TEST_MYSQL_REPLICA_SOCKET") != NULL;
	int failed = unit_run(unit_suite("db-replica", NULL, teardown, base));
	int n = 4;
	if (real) {
		failed += unit_run(unit_suite("db-replica-real", NULL, teardown, with_replica));
		n++;
		printf("%d passed, %d failed\n", n - failed, failed);
	}
	metrics_close();
	char path[sizeof metrics_dir + 32];
	snprintf(path, sizeof path, "%s/unit.metrics", metrics_dir);
	unlink(path);
	rmdir(metrics_dir);
	return unit_status("test-db-replica", failed, NULL);
}
