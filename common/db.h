/* db.h - MariaDB/MySQL: one persistent connection per process, prepared statements only. */
#ifndef FS_DB_H
#define FS_DB_H

#include <jansson.h>

#include "config.h"

/* Outcome of a database call. */
enum db_rc {
	DB_OK = 0,
	DB_ERR = -1,  /* a query error: a bug or bad data; logged */
	DB_DUP = -2,  /* duplicate key */
	DB_DOWN = -3, /* connection lost, timed out, deadlock, or breaker open: answer 100005 */
	DB_CACHE_DOWN = -4, /* Redis unreachable (state kept in both): answer 100005 too */
};

/*
 * Outcome of a guarded state change (an order's trade_state, an activity's status):
 * a db_rc when negative, else one of these. err_from_db (errors.h) maps the negatives.
 */
enum db_change {
	DB_CHANGED = 0,   /* this call changed the state (== DB_OK) */
	DB_UNCHANGED = 1, /* the state did not allow it (already paid, cancelled, loaded...) */
	DB_NOT_FOUND = 2, /* no such row */
};

struct db;

/* A handle for cfg's server; connects lazily, so it never fails for a dead server. */
struct db *db_new(const struct fs_config *cfg);

/* Close the connection and every prepared statement. */
void db_free(struct db *db);

/*
 * Bound every wait for the server (connect, read, write) to ms milliseconds in this
 * process; 0 leaves the second-based mysql.connect_timeout / rw_timeout. A wait that
 * runs out opens the breaker at once and is never retried.
 */
void db_set_wait_ms(int ms);

/* DB_OK if the server answers now. */
int db_ping(struct db *db);

/*
 * Run a statement. types names each parameter after it: 'i' long long,
 * 's' const char * (NULL binds SQL NULL). Statements are prepared once per
 * connection and cached by their text. A statement that never reached the
 * server is retried once on a fresh connection; outside a transaction only.
 */
int db_exec(struct db *db, const char *sql, const char *types, ...);

/*
 * Run a query; *rows becomes a new array of objects keyed by column label
 * (integers as JSON integers, NULL as null, the rest as strings).
 */
int db_query(struct db *db, json_t **rows, const char *sql, const char *types, ...);

/* Like db_query for at most one row: *row is a new object, or NULL if none. */
int db_query_row(struct db *db, json_t **row, const char *sql, const char *types, ...);

/* Rows changed by the last db_exec and the id it inserted. */
long long db_affected_rows(const struct db *db);
long long db_insert_id(const struct db *db);

/*
 * The handle for a read that may lag (the catalogue, order lists, activity lists, the
 * dashboard): with mysql.replica set, a replica handle whose queries go to the replica while
 * it replicates within mysql.replica_max_lag and answers, else to db; without it, db itself.
 * Writes and transactions on it go to db. A read after the caller's own write stays on db:
 * db remembers a write (db_exec, db_begin) until db_request_begin, which http.c calls before
 * every request. Reads count in flashsale_mysql_replica_reads_total{target=...}.
 */
struct db *db_reader(struct db *db);

/* A new request begins: forget this handle's writes (see db_reader). */
void db_request_begin(struct db *db);

/* Transactions: one at a time per handle. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);

/* The last server error message, for logs only (never for clients). */
const char *db_last_error(const struct db *db);

/* Count of reconnects and failures since start (for metrics). */
unsigned long db_reconnects(const struct db *db);

#endif
