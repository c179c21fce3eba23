/* db.c - MariaDB Connector/C wrapper: lazy connect, statement cache, breaker, rows as JSON. */
#include "db.h"

#include <errmsg.h>
#include <mysql.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "log.h"
#include "trace.h"

#define DB_MAX_PARAMS 32
#define DB_MAX_STMTS  128
#define DB_MAX_COLS   64

/* One cached prepared statement, keyed by its SQL text. */
struct db_stmt {
	char *sql; /* a copy: callers may build SQL in reusable buffers */
	MYSQL_STMT *stmt;
};

struct db {
	const struct fs_config *cfg;
	MYSQL *conn;
	struct db_stmt stmts[DB_MAX_STMTS];
	int nstmts;
	int in_tx;
	int broken; /* connection lost: dropped at the next call, not under a caller's feet */
	struct breaker brk;
	long long affected;
	long long insert_id;
	unsigned long reconnects;
	char err[256];
};

/* Parameters of one call, collected before binding so a retry can rebind. */
struct db_params {
	int n;
	MYSQL_BIND bind[DB_MAX_PARAMS];
	long long ints[DB_MAX_PARAMS];
	unsigned long lens[DB_MAX_PARAMS];
	my_bool nulls[DB_MAX_PARAMS];
};

struct db *db_new(const struct fs_config *cfg)
{
	struct db *db = calloc(1, sizeof *db);
	if (!db)
		return NULL;
	db->cfg = cfg;
	db->brk.cooldown_ms = cfg->breaker_cooldown_ms;
	return db;
}

/* Drop the connection and its statements (they die with it). */
static void db_disconnect(struct db *db)
{
	for (int i = 0; i < db->nstmts; i++) {
		mysql_stmt_close(db->stmts[i].stmt);
		free(db->stmts[i].sql);
	}
	db->nstmts = 0;
	if (db->conn)
		mysql_close(db->conn);
	db->conn = NULL;
	db->in_tx = 0;
	db->broken = 0;
}

void db_free(struct db *db)
{
	if (!db)
		return;
	db_disconnect(db);
	free(db);
}

/* Connect unless connected; DB_DOWN while the breaker is open or on failure. */
static int db_connect(struct db *db)
{
	if (db->broken)
		db_disconnect(db);
	if (db->conn)
		return DB_OK;
	if (!breaker_allow(&db->brk))
		return DB_DOWN;

	MYSQL *m = mysql_init(NULL);
	if (!m)
		return DB_ERR;
	unsigned int ct = (unsigned int)db->cfg->mysql_connect_timeout;
	unsigned int rw = (unsigned int)db->cfg->mysql_rw_timeout;
	my_bool no = 0;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	mysql_options(m, MYSQL_OPT_RECONNECT, &no);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");

	const char *sock = db->cfg->mysql_socket[0] ? db->cfg->mysql_socket : NULL;
	if (!mysql_real_connect(m, sock ? "localhost" : db->cfg->mysql_host, db->cfg->mysql_user,
				db->cfg->mysql_password, NULL, (unsigned int)db->cfg->mysql_port,
				sock, 0)) {
		snprintf(db->err, sizeof db->err, "connect: %s", mysql_error(m));
		if (db->brk.failures == 0)
			log_warn("mysql %s", db->err);
		mysql_close(m);
		breaker_fail(&db->brk);
		return DB_DOWN;
	}
	if (db->brk.failures)
		log_info("mysql connection restored");
	breaker_ok(&db->brk);
	db->conn = m;
	db->reconnects++;
	return DB_OK;
}

/* True for errors that mean the connection is gone. */
static int db_errno_is_down(unsigned int e)
{
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST || e == CR_CONNECTION_ERROR ||
	       e == CR_CONN_HOST_ERROR || e == 1927 /* ER_CONNECTION_KILLED */ ||
	       e == 1053 /* ER_SERVER_SHUTDOWN */ || e == 2055 /* CR_SERVER_LOST_EXTENDED */ ||
	       e == 1205 /* lock wait timeout */ || e == 1213 /* deadlock */;
}

/* Map a statement error to a db_rc, dropping a dead connection. */
static int db_fail(struct db *db, MYSQL_STMT *st, const char *sql)
{
	unsigned int e = st ? mysql_stmt_errno(st) : mysql_errno(db->conn);
	snprintf(db->err, sizeof db->err, "%u: %s", e,
		 st ? mysql_stmt_error(st) : mysql_error(db->conn));
	if (e == 1062)
		return DB_DUP;
	if (db_errno_is_down(e)) {
		if (e != 1205 && e != 1213)
			db->broken =
			    1; /* reconnect at once; only a failed connect opens the breaker */
		log_warn("mysql unavailable: %s", db->err);
		return DB_DOWN;
	}
	json_t *f = json_pack("{s:s}", "sql", sql);
	log_json(LOG_ERROR, db->err, f);
	return DB_ERR;
}

/* The cached statement for sql, preparing it on first use. */
static int db_prepare(struct db *db, const char *sql, MYSQL_STMT **out)
{
	for (int i = 0; i < db->nstmts; i++)
		if (!strcmp(db->stmts[i].sql, sql)) {
			*out = db->stmts[i].stmt;
			return DB_OK;
		}
	MYSQL_STMT *st = mysql_stmt_init(db->conn);
	if (!st)
		return db_fail(db, NULL, sql);
	if (mysql_stmt_prepare(st, sql, strlen(sql))) {
		int rc = db_fail(db, st, sql);
		mysql_stmt_close(st);
		return rc;
	}
	my_bool update_max = 1;
	mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
	char *copy = strdup(sql);
	if (copy && db->nstmts < DB_MAX_STMTS) {
		db->stmts[db->nstmts].sql = copy;
		db->stmts[db->nstmts].stmt = st;
		db->nstmts++;
	} else {
		log_error("statement cache full or out of memory; raise DB_MAX_STMTS");
		free(copy);
		mysql_stmt_close(st);
		return DB_ERR;
	}
	*out = st;
	return DB_OK;
}

/* Collect typed varargs into binds. */
static int db_collect(struct db_params *p, const char *types, va_list ap)
{
	memset(p, 0, sizeof *p);
	for (const char *t = types ? types : ""; *t; t++) {
		if (p->n == DB_MAX_PARAMS)
			return DB_ERR;
		MYSQL_BIND *b = &p->bind[p->n];
		if (*t == 'i') {
			p->ints[p->n] = va_arg(ap, long long);
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &p->ints[p->n];
		} else if (*t == 's') {
			const char *s = va_arg(ap, const char *);
			b->buffer_type = MYSQL_TYPE_STRING;
			if (s) {
				b->buffer = (void *)s;
				p->lens[p->n] = strlen(s);
				b->buffer_length = p->lens[p->n];
				b->length = &p->lens[p->n];
			} else {
				p->nulls[p->n] = 1;
				b->is_null = &p->nulls[p->n];
			}
		} else {
			return DB_ERR;
		}
		p->n++;
	}
	return DB_OK;
}

/* Prepare, bind and execute, retrying once on a fresh connection when safe. */
static int db_run(struct db *db, const char *sql, struct db_params *p, MYSQL_STMT **out)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int rc = db_connect(db);
		if (rc)
			return rc;
		int fresh = db->nstmts == 0;
		MYSQL_STMT *st = NULL;
		rc = db_prepare(db, sql, &st);
		if (rc == DB_DOWN && !db->in_tx && attempt == 0 && !fresh)
			continue; /* the statement never ran: safe to retry */
		if (rc)
			return rc;
		if (mysql_stmt_param_count(st) != (unsigned long)p->n) {
			log_error("sql expects %lu parameters, got %d: %s",
				  mysql_stmt_param_count(st), p->n, sql);
			return DB_ERR;
		}
		if (p->n && mysql_stmt_bind_param(st, p->bind))
			return db_fail(db, st, sql);
		if (mysql_stmt_execute(st)) {
			unsigned int e = mysql_stmt_errno(st);
			rc = db_fail(db, st, sql);
			/* CR_SERVER_GONE_ERROR: the request was never sent. */
			if (rc == DB_DOWN && e == CR_SERVER_GONE_ERROR && !db->in_tx &&
			    attempt == 0)
				continue;
			return rc;
		}
		*out = st;
		return DB_OK;
	}
	return DB_DOWN;
}

/* Send a child span for one statement of the traced request. */
static void db_trace(const char *sql, unsigned long long t0, int rc)
{
	char name[64];
	if (!t0)
		return;
	snprintf(name, sizeof name, "%.63s", sql);
	trace_child(name, "mysql", t0, rc != DB_OK && rc != DB_DUP);
}

int db_exec(struct db *db, const char *sql, const char *types, ...)
{
	struct db_params p;
	MYSQL_STMT *st;
	va_list ap;
	va_start(ap, types);
	int rc = db_collect(&p, types, ap);
	va_end(ap);
	if (rc)
		return rc;
	unsigned long long t0 = trace_enabled() ? trace_now_ns() : 0;
	rc = db_run(db, sql, &p, &st);
	db_trace(sql, t0, rc);
	if (rc)
		return rc;
	db->affected = (long long)mysql_stmt_affected_rows(st);
	db->insert_id = (long long)mysql_stmt_insert_id(st);
	mysql_stmt_free_result(st);
	return DB_OK;
}

/* Is this column type an integer? */
static int db_type_is_int(enum enum_field_types t)
{
	return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_LONG ||
	       t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_YEAR;
}

/* Fetch every row of an executed statement into a JSON array. */
static int db_fetch(struct db *db, MYSQL_STMT *st, const char *sql, json_t **rows)
{
	int rc = DB_ERR;
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	MYSQL_BIND bind[DB_MAX_COLS];
	unsigned long lens[DB_MAX_COLS];
	my_bool nulls[DB_MAX_COLS];
	char *bufs[DB_MAX_COLS] = {0};
	unsigned int ncols = 0;

	*rows = json_array();
	if (!meta) {
		rc = DB_OK;
		goto out;
	}
	if (mysql_stmt_store_result(st)) {
		rc = db_fail(db, st, sql);
		goto out;
	}
	ncols = mysql_num_fields(meta);
	if (ncols > DB_MAX_COLS)
		goto out;
	MYSQL_FIELD *fields = mysql_fetch_fields(meta);
	memset(bind, 0, sizeof bind);
	for (unsigned int i = 0; i < ncols; i++) {
		unsigned long cap = fields[i].max_length > 64 ? fields[i].max_length : 64;
		bufs[i] = malloc(cap + 1);
		if (!bufs[i])
			goto out;
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].buffer = bufs[i];
		bind[i].buffer_length = cap + 1;
		bind[i].length = &lens[i];
		bind[i].is_null = &nulls[i];
	}
	if (mysql_stmt_bind_result(st, bind)) {
		rc = db_fail(db, st, sql);
		goto out;
	}
	for (;;) {
		int f = mysql_stmt_fetch(st);
		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1) {
			rc = db_fail(db, st, sql);
			goto out;
		}
		json_t *row = json_object();
		for (unsigned int i = 0; i < ncols; i++) {
			json_t *v;
			if (nulls[i]) {
				v = json_null();
			} else {
				bufs[i][lens[i] < bind[i].buffer_length
					    ? lens[i]
					    : bind[i].buffer_length - 1] = 0;
				if (db_type_is_int(fields[i].type))
					v = json_integer(strtoll(bufs[i], NULL, 10));
				else
					v = json_stringn(bufs[i], lens[i]);
			}
			json_object_set_new(row, fields[i].name, v ? v : json_null());
		}
		json_array_append_new(*rows, row);
	}
	rc = DB_OK;
out:
	for (unsigned int i = 0; i < ncols && i < DB_MAX_COLS; i++)
		free(bufs[i]);
	if (meta)
		mysql_free_result(meta);
	mysql_stmt_free_result(st);
	if (rc) {
		json_decref(*rows);
		*rows = NULL;
	}
	return rc;
}

/* Shared body of db_query and db_query_row. */
static int db_vquery(struct db *db, json_t **rows, const char *sql, const char *types, va_list ap)
{
	struct db_params p;
	MYSQL_STMT *st;
	int rc = db_collect(&p, types, ap);
	*rows = NULL;
	if (rc)
		return rc;
	unsigned long long t0 = trace_enabled() ? trace_now_ns() : 0;
	rc = db_run(db, sql, &p, &st);
	if (rc == DB_OK)
		rc = db_fetch(db, st, sql, rows);
	db_trace(sql, t0, rc);
	return rc;
}

int db_query(struct db *db, json_t **rows, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	int rc = db_vquery(db, rows, sql, types, ap);
	va_end(ap);
	return rc;
}

int db_query_row(struct db *db, json_t **row, const char *sql, const char *types, ...)
{
	json_t *rows;
	va_list ap;
	va_start(ap, types);
	int rc = db_vquery(db, &rows, sql, types, ap);
	va_end(ap);
	*row = NULL;
	if (rc)
		return rc;
	if (json_array_size(rows) > 0)
		*row = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return DB_OK;
}

long long db_affected_rows(const struct db *db)
{
	return db->affected;
}

long long db_insert_id(const struct db *db)
{
	return db->insert_id;
}

/* Run a plain statement without parameters (transaction control). */
static int db_simple(struct db *db, const char *sql)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int rc = db_connect(db);
		if (rc)
			return rc;
		if (!mysql_query(db->conn, sql))
			return DB_OK;
		unsigned int e = mysql_errno(db->conn);
		rc = db_fail(db, NULL, sql);
		/* A stale link (server restarted): the statement never ran, so try a fresh one. */
		if (rc == DB_DOWN && !db->in_tx && attempt == 0 &&
		    (e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST))
			continue;
		return rc;
	}
	return DB_DOWN;
}

int db_begin(struct db *db)
{
	int rc = db_simple(db, "START TRANSACTION");
	if (rc == DB_OK)
		db->in_tx = 1;
	return rc;
}

int db_commit(struct db *db)
{
	int rc = db_simple(db, "COMMIT");
	db->in_tx = 0;
	return rc;
}

void db_rollback(struct db *db)
{
	if (db->conn && db->in_tx && !db->broken)
		mysql_rollback(db->conn);
	db->in_tx = 0;
}

int db_ping(struct db *db)
{
	int rc = db_connect(db);
	if (rc)
		return rc;
	if (mysql_ping(db->conn)) {
		db->broken = 1;
		return DB_DOWN;
	}
	return DB_OK;
}

const char *db_last_error(const struct db *db)
{
	return db->err;
}

unsigned long db_reconnects(const struct db *db)
{
	return db->reconnects;
}
