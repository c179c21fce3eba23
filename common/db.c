/* db.c - MariaDB Connector/C wrapper: lazy connect, statement cache, breaker, rows as JSON. */
#include "db.h"

#include <errmsg.h>
#include <errno.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "log.h"
#include "metrics.h"
#include "trace.h"

#define DB_MAX_PARAMS 32
#define DB_MAX_STMTS  128
#define DB_MAX_COLS   64
/* The replica's longest wait for one answer, ms: a dead replica must cost a read little. */
#define DB_REPLICA_WAIT_MS 400
/* How often the replica's lag is read, ms. */
#define DB_LAG_CHECK_MS 1000

/* One cached prepared statement, keyed by its SQL text. */
struct db_stmt {
	char *sql; /* a copy: callers may build SQL in reusable buffers */
	MYSQL_STMT *stmt;
};

struct db {
	const struct fs_config *cfg;
	const char *socket; /* where this handle connects: a socket path, else host and port */
	const char *host;
	unsigned int port;
	char hostbuf[128];
	int wait_ms;         /* this handle's bound on one wait (0: the process-wide one) */
	struct db *replica;  /* the primary's read replica, or NULL */
	struct db *primary;  /* set on a replica handle: where its writes and fallbacks go */
	int wrote;           /* primary: wrote since db_request_begin (its reads stay here) */
	long long lag_at_ms; /* replica: when the lag was last read */
	int lag_ok;          /* replica: replicating, within replica_max_lag at lag_at_ms */
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

/* A handle on one server (no connection yet). */
static struct db *db_alloc(const struct fs_config *cfg)
{
	struct db *db = calloc(1, sizeof *db);
	if (!db)
		return NULL;
	db->cfg = cfg;
	db->brk.cooldown_ms = cfg->breaker_cooldown_ms;
	db->socket = cfg->mysql_socket[0] ? cfg->mysql_socket : NULL;
	db->host = cfg->mysql_host;
	db->port = (unsigned int)cfg->mysql_port;
	return db;
}

/* Point a replica handle at mysql.replica: a socket path (has a '/'), else host:port. */
static int db_replica_addr(struct db *r, const char *addr)
{
	const char *colon = strrchr(addr, ':');
	if (strchr(addr, '/')) {
		r->socket = addr;
		return 0;
	}
	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof r->hostbuf)
		return -1;
	long port = strtol(colon + 1, NULL, 10);
	if (port < 1 || port > 65535)
		return -1;
	memcpy(r->hostbuf, addr, (size_t)(colon - addr));
	r->hostbuf[colon - addr] = 0;
	r->socket = NULL;
	r->host = r->hostbuf;
	r->port = (unsigned int)port;
	return 0;
}

struct db *db_new(const struct fs_config *cfg)
{
	struct db *db = db_alloc(cfg);
	if (!db || !cfg->mysql_replica || !cfg->mysql_replica[0])
		return db;
	struct db *r = db_alloc(cfg);
	if (!r || db_replica_addr(r, cfg->mysql_replica) < 0) {
		log_error("mysql.replica: %s is neither a socket path nor host:port",
			  cfg->mysql_replica);
		free(r);
		free(db);
		return NULL;
	}
	r->primary = db;
	r->wait_ms = DB_REPLICA_WAIT_MS;
	db->replica = r;
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
	if (db->replica)
		db_free(db->replica);
	free(db);
}

/*
 * The longest wait for one answer from the server, ms (0: the connector's own second-based
 * timeouts). Process-wide because the connector's io_wait hook gets only the socket.
 */
static int db_wait_ms;
/* Per thread (the FastCGI programs may run several): the bound of the call under way (db_wait_ms
 * or its handle's), and whether this thread's last wait ran out (a frozen or overloaded server). */
static __thread int db_wait_now;
static __thread int db_wait_timed_out;

/* Start a call on db: bound its waits, forget the last timeout. */
static void db_wait_begin(const struct db *db)
{
	db_wait_now = db_wait_ms;
	if (db->wait_ms && (!db_wait_now || db->wait_ms < db_wait_now))
		db_wait_now = db->wait_ms;
	db_wait_timed_out = 0;
}

void db_set_wait_ms(int ms)
{
	db_wait_ms = ms > 0 ? ms : 0;
}

/* The connector's I/O wait (MARIADB_OPT_IO_WAIT): poll, bounded by db_wait_ms. */
static int db_io_wait(my_socket fd, my_bool is_read, int timeout)
{
	struct pollfd p = {.fd = fd, .events = is_read ? POLLIN : POLLOUT};
	int ms = timeout > 0 ? timeout : -1;
	if (db_wait_now && (ms < 0 || ms > db_wait_now))
		ms = db_wait_now;
	long long deadline = breaker_now_ms() + (ms < 0 ? 0 : ms);
	for (;;) {
		int rc = poll(&p, 1, ms);
		if (rc == 0)
			db_wait_timed_out = 1;
		if (rc != -1 || errno != EINTR)
			return rc;
		if (ms >= 0 && (ms = (int)(deadline - breaker_now_ms())) <= 0) {
			db_wait_timed_out = 1;
			return 0;
		}
	}
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
	/* A full listen queue is waited out in whole seconds, outside io_wait: keep it short. */
	unsigned int ct =
	    db_wait_ms || db->wait_ms ? 1 : (unsigned int)db->cfg->mysql_connect_timeout;
	unsigned int rw = db->wait_ms ? 1 : (unsigned int)db->cfg->mysql_rw_timeout;
	my_bool no = 0;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	mysql_options(m, MYSQL_OPT_RECONNECT, &no);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_optionsv(m, MARIADB_OPT_IO_WAIT, db_io_wait);

	const char *sock = db->socket;
	const char *what = db->primary ? "mysql replica" : "mysql";
	db_wait_begin(db);
	if (!mysql_real_connect(m, sock ? "localhost" : db->host, db->cfg->mysql_user,
				db->cfg->mysql_password, NULL, db->port, sock, 0)) {
		snprintf(db->err, sizeof db->err, "connect: %s%s", mysql_error(m),
			 db_wait_timed_out ? " (timed out)" : "");
		if (db->brk.failures == 0)
			log_warn("%s %s", what, db->err);
		mysql_close(m);
		breaker_fail(&db->brk);
		return DB_DOWN;
	}
	if (db->brk.failures)
		log_info("%s connection restored", what);
	breaker_ok(&db->brk);
	db->conn = m;
	db->reconnects++;
	return DB_OK;
}

/* What a server or client error means for the caller, and whether the link survives it. */
enum db_class {
	DBC_OTHER = 0, /* a query error: a bug or bad data */
	DBC_DUPLICATE, /* a unique key said no */
	DBC_DEADLOCK,  /* the server rolled the transaction back (or gave up waiting for a lock) */
	DBC_DOWN,      /* the connection is gone (server restarted, killed, shut down) */
	DBC_TIMEOUT,   /* no answer in time: frozen or overloaded; never retried */
};

/* The one classification table: MySQL errnos we act on (mysqld_error.h, errmsg.h). */
static const struct {
	unsigned int err;
	enum db_class cls;
} db_errors[] = {
    {ER_DUP_ENTRY, DBC_DUPLICATE},        /* 1062 */
    {ER_LOCK_WAIT_TIMEOUT, DBC_DEADLOCK}, /* 1205 */
    {ER_LOCK_DEADLOCK, DBC_DEADLOCK},     /* 1213 */
    {ER_SERVER_SHUTDOWN, DBC_DOWN},       /* 1053 */
    {ER_CONNECTION_KILLED, DBC_DOWN},     /* 1927 */
    {CR_CONNECTION_ERROR, DBC_DOWN},      /* 2002 */
    {CR_CONN_HOST_ERROR, DBC_DOWN},       /* 2003 */
    {CR_SERVER_GONE_ERROR, DBC_DOWN},     /* 2006: the request was never sent */
    {CR_SERVER_LOST, DBC_DOWN},           /* 2013: or DBC_TIMEOUT, see db_classify */
    {CR_SERVER_LOST_EXTENDED, DBC_DOWN},  /* 2055 */
};

/*
 * The class of errno e. A wait that ran out also ends in 2013, like a restart; only the
 * io_wait hook knows the difference, and retrying a timeout would add the connect timeout.
 */
static enum db_class db_classify(unsigned int e)
{
	for (size_t i = 0; i < sizeof db_errors / sizeof db_errors[0]; i++)
		if (db_errors[i].err == e)
			return db_errors[i].cls == DBC_DOWN && db_wait_timed_out ? DBC_TIMEOUT
										 : db_errors[i].cls;
	return DBC_OTHER;
}

/* Map a statement error to a db_rc, dropping a dead connection. */
static int db_fail(struct db *db, MYSQL_STMT *st, const char *sql)
{
	unsigned int e = st ? mysql_stmt_errno(st) : mysql_errno(db->conn);
	enum db_class cls = db_classify(e);
	snprintf(db->err, sizeof db->err, "%u: %s%s", e,
		 st ? mysql_stmt_error(st) : mysql_error(db->conn),
		 cls == DBC_TIMEOUT ? " (timed out)" : "");
	switch (cls) {
	case DBC_DUPLICATE: return DB_DUP;
	case DBC_DEADLOCK: log_warn("mysql busy: %s", db->err); return DB_DOWN;
	case DBC_TIMEOUT:
		/* A frozen server: open the breaker at once, so the next callers fail fast. */
		breaker_fail(&db->brk);
		/* fall through */
	case DBC_DOWN:
		db->broken = 1; /* reconnect at the next call, not under a caller's feet */
		log_warn("mysql unavailable: %s", db->err);
		return DB_DOWN;
	default: break;
	}
	json_t *f = json_pack("{s:s}", "sql", sql);
	log_json(LOG_ERROR, db->err, f);
	return DB_ERR;
}

/*
 * May a failed call be tried again on a fresh connection? Only outside a transaction,
 * only once, never after a timeout, and only when e (0 = no) is an error of class DOWN
 * that says the statement did not run: callers pass 0 where it may have.
 */
static int db_may_retry(struct db *db, int attempt, unsigned int e)
{
	return attempt == 0 && !db->in_tx && e && db_classify(e) == DBC_DOWN;
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

/* Prepare, bind and execute one attempt. DB_OK with *out, or a db_rc; *e the errno. */
static int db_run_once(struct db *db, const char *sql, struct db_params *p, MYSQL_STMT **out,
		       unsigned int *e)
{
	MYSQL_STMT *st = NULL;
	int fresh = db->nstmts == 0;
	int rc = db_prepare(db, sql, &st);
	if (rc) {
		/* A prepare that failed on a reused link never ran anything. */
		*e = rc == DB_DOWN && !fresh ? CR_SERVER_GONE_ERROR : 0;
		return rc;
	}
	if (mysql_stmt_param_count(st) != (unsigned long)p->n) {
		log_error("sql expects %lu parameters, got %d: %s", mysql_stmt_param_count(st),
			  p->n, sql);
		return DB_ERR;
	}
	if (p->n && mysql_stmt_bind_param(st, p->bind))
		return db_fail(db, st, sql);
	if (mysql_stmt_execute(st)) {
		*e = mysql_stmt_errno(st);
		/* A link lost during the statement (2013, 2055) may have run it: no retry. */
		if (*e == CR_SERVER_LOST || *e == CR_SERVER_LOST_EXTENDED)
			*e = 0;
		return db_fail(db, st, sql);
	}
	*out = st;
	return DB_OK;
}

/* One attempt: a prepared statement with p, or (p NULL) a plain one via mysql_query. */
static int db_attempt(struct db *db, const char *sql, struct db_params *p, MYSQL_STMT **out,
		      unsigned int *e)
{
	*e = 0;
	db_wait_begin(db);
	if (p)
		return db_run_once(db, sql, p, out, e);
	if (!mysql_query(db->conn, sql))
		return DB_OK;
	*e = mysql_errno(db->conn);
	return db_fail(db, NULL, sql);
}

/* The one retry loop: connect, attempt, and once more on a fresh link when db_may_retry. */
static int db_run(struct db *db, const char *sql, struct db_params *p, MYSQL_STMT **out)
{
	int rc = DB_DOWN;
	for (int attempt = 0; attempt < 2; attempt++) {
		unsigned int e;
		if ((rc = db_connect(db)))
			return rc;
		rc = db_attempt(db, sql, p, out, &e);
		if (rc != DB_DOWN || !db_may_retry(db, attempt, e))
			return rc;
	}
	return rc;
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
	if (db->primary)
		db = db->primary; /* writes never go to the replica */
	db->wrote = 1;
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

/*
 * Columns that did not fit their buffer (MYSQL_DATA_TRUNCATED): grow each to its real
 * length, fetch it again, and rebind so later rows use the new buffers. 0 or -1.
 */
static int db_refetch(MYSQL_STMT *st, MYSQL_BIND *bind, char **bufs, const unsigned long *lens,
		      my_bool *errs, unsigned int ncols)
{
	for (unsigned int i = 0; i < ncols; i++) {
		if (!errs[i])
			continue;
		char *p = realloc(bufs[i], lens[i] + 1);
		if (!p)
			return -1;
		bufs[i] = p;
		bind[i].buffer = p;
		bind[i].buffer_length = lens[i] + 1;
		if (mysql_stmt_fetch_column(st, &bind[i], i, 0))
			return -1;
		errs[i] = 0;
	}
	return mysql_stmt_bind_result(st, bind) ? -1 : 0;
}

/* One fetched row as an object keyed by column label; NULL when out of memory. */
static json_t *db_row(const MYSQL_FIELD *fields, MYSQL_BIND *bind, char **bufs,
		      const unsigned long *lens, const my_bool *nulls, unsigned int ncols)
{
	json_t *row = json_object();
	for (unsigned int i = 0; row && i < ncols; i++) {
		json_t *v;
		if (nulls[i]) {
			v = json_null();
		} else {
			size_t n =
			    lens[i] < bind[i].buffer_length ? lens[i] : bind[i].buffer_length - 1;
			bufs[i][n] = 0;
			if (db_type_is_int(fields[i].type))
				v = json_integer(strtoll(bufs[i], NULL, 10));
			else
				v = json_stringn(bufs[i], n); /* NULL for invalid UTF-8: null */
		}
		if (json_object_set_new(row, fields[i].name, v ? v : json_null()) < 0) {
			json_decref(row);
			row = NULL;
		}
	}
	return row;
}

/* Fetch every row of an executed statement into a JSON array. */
static int db_fetch(struct db *db, MYSQL_STMT *st, const char *sql, json_t **rows)
{
	int rc = DB_ERR;
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	MYSQL_BIND bind[DB_MAX_COLS];
	unsigned long lens[DB_MAX_COLS];
	my_bool nulls[DB_MAX_COLS], errs[DB_MAX_COLS];
	char *bufs[DB_MAX_COLS] = {0};
	unsigned int ncols = 0;

	if (!(*rows = json_array()))
		goto out;
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
		bind[i].error = &errs[i];
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
		if (f == MYSQL_DATA_TRUNCATED &&
		    db_refetch(st, bind, bufs, lens, errs, ncols) < 0) {
			log_error("mysql: cannot refetch a truncated column: %s", sql);
			goto out;
		}
		json_t *row = db_row(fields, bind, bufs, lens, nulls, ncols);
		if (!row || json_array_append_new(*rows, row) < 0) {
			log_error("mysql: out of memory building rows: %s", sql);
			goto out;
		}
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

/* Shared body of db_query and db_query_row, on one server. */
static int db_vquery_on(struct db *db, json_t **rows, const char *sql, const char *types,
			va_list ap)
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

/* Count a read that may lag, by the server that answered it (slots made at first use). */
static void db_count_read(int replica)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int slots[2] = {-2, -2};
	pthread_mutex_lock(&lock); /* the slots are the process's, shared by its threads */
	if (slots[replica] == -2)
		slots[replica] = metrics_define(
		    "flashsale_mysql_replica_reads_total",
		    replica ? "target=\"replica\"" : "target=\"primary\"",
		    "Reads that may lag (db_reader), by the server that answered them.", 0);
	int slot = slots[replica];
	pthread_mutex_unlock(&lock);
	metrics_add(slot, 1);
}

/* The replica's state from SHOW REPLICA STATUS: 1 replicating within the lag bound, else 0. */
static int db_replica_check(struct db *r, char *why, size_t len)
{
	static const char sql[] = "SHOW REPLICA STATUS";
	int ok = 0;
	snprintf(why, len, "down");
	if (db_connect(r))
		return 0;
	db_wait_begin(r);
	if (mysql_query(r->conn, sql)) {
		db_fail(r, NULL, sql);
		return 0;
	}
	MYSQL_RES *res = mysql_store_result(r->conn);
	if (!res) {
		if (mysql_errno(r->conn))
			db_fail(r, NULL, sql);
		return 0;
	}
	MYSQL_ROW row = mysql_fetch_row(res);
	MYSQL_FIELD *f = mysql_fetch_fields(res);
	const char *io = NULL, *run = NULL, *lag = NULL;
	for (unsigned int i = 0; row && i < mysql_num_fields(res); i++) {
		if (!strcmp(f[i].name, "Slave_IO_Running"))
			io = row[i];
		else if (!strcmp(f[i].name, "Slave_SQL_Running"))
			run = row[i];
		else if (!strcmp(f[i].name, "Seconds_Behind_Master"))
			lag = row[i];
	}
	if (!row)
		snprintf(why, len, "not a replica");
	else if (!io || !run || strcmp(io, "Yes") || strcmp(run, "Yes") || !lag)
		snprintf(why, len, "replication stopped (io %s, sql %s)", io ? io : "?",
			 run ? run : "?");
	else if (atoll(lag) > r->cfg->mysql_replica_max_lag)
		snprintf(why, len, "lagging %s s", lag);
	else
		ok = 1;
	mysql_free_result(res);
	return ok;
}

/*
 * After a failure that opened r's breaker, keep it open longer each time it fails again
 * (cooldown, x2, x4, x8): while the replica is frozen, only one read per worker and period
 * pays the replica's wait.
 */
static void db_replica_backoff(struct db *r)
{
	long long now = breaker_now_ms();
	if (r->brk.failures < 2 || r->brk.open_until_ms <= now)
		return;
	unsigned long shift = r->brk.failures - 1 > 3 ? 3 : r->brk.failures - 1;
	r->brk.open_until_ms = now + (r->brk.cooldown_ms << shift);
}

/*
 * May a read that may lag go to replica r now? Not after the caller's own write in this
 * request (or inside its transaction), not while r's breaker is open, and only while r
 * replicates within mysql.replica_max_lag (read at most once every DB_LAG_CHECK_MS).
 */
static int db_replica_usable(struct db *r)
{
	if (r->primary->wrote || r->primary->in_tx || !breaker_allow(&r->brk))
		return 0;
	long long now = breaker_now_ms();
	if (r->lag_at_ms && now - r->lag_at_ms < DB_LAG_CHECK_MS)
		return r->lag_ok;
	char why[96];
	int ok = db_replica_check(r, why, sizeof why);
	if (!ok)
		db_replica_backoff(r);
	if (ok && !r->lag_ok)
		log_info("mysql replica in use");
	else if (!ok && (r->lag_ok || !r->lag_at_ms))
		log_warn("mysql replica not used: %s", why);
	r->lag_ok = ok;
	r->lag_at_ms = breaker_now_ms();
	return ok;
}

/* A query: on a replica handle, the replica when usable, else (or when it fails) its primary. */
static int db_vquery(struct db *db, json_t **rows, const char *sql, const char *types, va_list ap)
{
	if (!db->primary)
		return db_vquery_on(db, rows, sql, types, ap);
	if (db_replica_usable(db)) {
		va_list cp;
		va_copy(cp, ap);
		int rc = db_vquery_on(db, rows, sql, types, cp);
		va_end(cp);
		if (rc == DB_OK) {
			db_count_read(1);
			return rc;
		}
		db->lag_at_ms = 0; /* read its state again before the next read */
		db_replica_backoff(db);
	}
	db_count_read(0);
	return db_vquery_on(db->primary, rows, sql, types, ap);
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
	return db->primary ? db->primary->affected : db->affected;
}

long long db_insert_id(const struct db *db)
{
	return db->primary ? db->primary->insert_id : db->insert_id;
}

struct db *db_reader(struct db *db)
{
	return db->replica ? db->replica : db;
}

void db_request_begin(struct db *db)
{
	db->wrote = 0;
}

/* Run a plain statement without parameters (transaction control). */
static int db_simple(struct db *db, const char *sql)
{
	return db_run(db, sql, NULL, NULL);
}

int db_begin(struct db *db)
{
	if (db->primary)
		db = db->primary;
	db->wrote = 1;
	int rc = db_simple(db, "START TRANSACTION");
	if (rc == DB_OK)
		db->in_tx = 1;
	return rc;
}

int db_commit(struct db *db)
{
	if (db->primary)
		db = db->primary;
	int rc = db_simple(db, "COMMIT");
	db->in_tx = 0;
	return rc;
}

void db_rollback(struct db *db)
{
	if (db->primary)
		db = db->primary;
	if (db->conn && db->in_tx && !db->broken)
		mysql_rollback(db->conn);
	db->in_tx = 0;
}

int db_ping(struct db *db)
{
	int rc = db_connect(db);
	if (rc)
		return rc;
	db_wait_begin(db);
	if (mysql_ping(db->conn)) {
		db->broken = 1;
		if (db_wait_timed_out)
			breaker_fail(&db->brk);
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
