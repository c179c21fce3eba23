/* coupon.c - coupons: issue (guarded by total and perUserLimit), check, lock, use, release. */
#include "coupon.h"

#include <stdio.h>
#include <time.h>

#include "errors.h"
#include "log.h"

/* The columns coupon_check and coupon_best read, of coupon c joined to its template t. */
#define COUPON_TERMS                                                                               \
	"c.id, c.user_id, c.status, c.valid_from, c.valid_to, t.kind, t.amount, t.percent, "       \
	"t.max_discount, t.min_spend, (t.product_ids = '' OR FIND_IN_SET(?, t.product_ids) > 0) "  \
	"AS applies FROM flashsale_coupon.coupon c JOIN flashsale_coupon.template t "              \
	"ON t.id = c.template_id "

int coupon_err(int rc)
{
	switch (rc) {
	case COUPON_OK: return 0;
	case COUPON_NOT_FOUND: return E_COUPON_NOT_FOUND;
	case COUPON_UNUSABLE: return E_COUPON_UNUSABLE;
	case COUPON_ALL_CLAIMED: return E_COUPON_ALL_CLAIMED;
	case COUPON_LIMIT: return E_COUPON_LIMIT;
	case COUPON_CLOSED: return E_COUPON_CLOSED;
	default: return err_from_db(rc);
	}
}

void coupon_key(char *out, size_t len, long long template_id, const char *what)
{
	snprintf(out, len, "{c:%lld}:%s", template_id, what);
}

long long coupon_discount(long long kind, long long amount, long long percent,
			  long long max_discount, long long total)
{
	long long d = 0;
	if (total <= 1)
		return 0;
	if (kind == 1)
		d = amount;
	else if (kind == 2) {
		d = total * percent / 100;
		if (max_discount > 0 && d > max_discount)
			d = max_discount;
	}
	if (d > total - 1)
		d = total - 1;
	return d < 0 ? 0 : d;
}

/* An integer column of a row. */
static long long col(json_t *row, const char *name)
{
	return json_integer_value(json_object_get(row, name));
}

int coupon_grant(struct db *db, long long template_id, long long user_id, const char *source,
		 const char *request_id, int live_only, long long *coupon_id)
{
	json_t *t = NULL, *row = NULL;
	long long now = (long long)time(NULL);
	int rc;

	if (request_id) {
		rc = db_query_row(db, &row,
				  "SELECT id FROM flashsale_coupon.coupon WHERE request_id = ?",
				  "s", request_id);
		if (rc || row) {
			if (row)
				*coupon_id = col(row, "id");
			json_decref(row);
			return rc;
		}
	}
	rc = db_query_row(db, &t,
			  "SELECT issued, total, per_user_limit, valid_from, valid_to, valid_days, "
			  "status FROM flashsale_coupon.template WHERE id = ? FOR UPDATE",
			  "i", template_id);
	if (rc)
		goto out;
	if (!t) {
		rc = COUPON_NOT_FOUND;
		goto out;
	}
	long long days = col(t, "valid_days");
	long long from = days > 0 ? now : col(t, "valid_from");
	long long to = days > 0 ? now + days * 86400 : col(t, "valid_to");
	if ((live_only && col(t, "status") != 0) || to <= now) {
		rc = COUPON_CLOSED;
		goto out;
	}
	if (col(t, "issued") >= col(t, "total")) {
		rc = COUPON_ALL_CLAIMED;
		goto out;
	}
	rc = db_exec(db,
		     "INSERT IGNORE INTO flashsale_coupon.claim_count (template_id, user_id, n) "
		     "VALUES (?, ?, 0)",
		     "ii", template_id, user_id);
	if (rc)
		goto out;
	rc = db_query_row(db, &row,
			  "SELECT n FROM flashsale_coupon.claim_count WHERE template_id = ? AND "
			  "user_id = ? FOR UPDATE",
			  "ii", template_id, user_id);
	if (rc)
		goto out;
	if (!row || col(row, "n") >= col(t, "per_user_limit")) {
		rc = row ? COUPON_LIMIT : DB_ERR;
		goto out;
	}
	/* Both rows are locked and checked: the guarded updates below cannot fail now. */
	if ((rc = db_exec(db,
			  "UPDATE flashsale_coupon.template SET issued = issued + 1, update_time = "
			  "UNIX_TIMESTAMP() WHERE id = ? AND issued < total",
			  "i", template_id)) ||
	    (rc = db_exec(db,
			  "UPDATE flashsale_coupon.claim_count SET n = n + 1 WHERE template_id = ? "
			  "AND user_id = ?",
			  "ii", template_id, user_id)) ||
	    (rc =
		 db_exec(db,
			 "INSERT INTO flashsale_coupon.coupon (template_id, user_id, status, "
			 "valid_from, valid_to, source, request_id, claim_time, update_time) "
			 "VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?)",
			 "iiiissii", template_id, user_id, from, to, source, request_id, now, now)))
		goto out;
	*coupon_id = db_insert_id(db);
out:
	json_decref(t);
	json_decref(row);
	return rc;
}

/* Is the coupon row usable for total fen now? COUPON_OK with *discount, else why. */
static int coupon_usable(json_t *c, long long user_id, long long total, long long now,
			 long long *discount, const char **why)
{
	if (col(c, "user_id") != user_id) {
		*why = "coupon not found";
		return COUPON_NOT_FOUND;
	}
	if (col(c, "status") == 1) {
		*why = "coupon is locked to another order";
		return COUPON_UNUSABLE;
	}
	if (col(c, "status") != 0) {
		*why = "coupon already used";
		return COUPON_UNUSABLE;
	}
	if (now < col(c, "valid_from") || now >= col(c, "valid_to")) {
		*why = now < col(c, "valid_from") ? "coupon not valid yet" : "coupon expired";
		return COUPON_UNUSABLE;
	}
	if (!col(c, "applies")) {
		*why = "coupon does not apply to this product";
		return COUPON_UNUSABLE;
	}
	if (total < col(c, "min_spend")) {
		*why = "order total below the coupon's minimum spend";
		return COUPON_UNUSABLE;
	}
	*discount = coupon_discount(col(c, "kind"), col(c, "amount"), col(c, "percent"),
				    col(c, "max_discount"), total);
	return COUPON_OK;
}

int coupon_check(struct db *db, long long coupon_id, long long user_id, long long product_id,
		 long long total, long long *discount, const char **why)
{
	json_t *c = NULL;
	int rc = db_query_row(db, &c, "SELECT " COUPON_TERMS "WHERE c.id = ?", "ii", product_id,
			      coupon_id);
	if (rc)
		return rc;
	*why = "coupon not found";
	if (!c)
		return COUPON_NOT_FOUND;
	rc = coupon_usable(c, user_id, total, (long long)time(NULL), discount, why);
	json_decref(c);
	return rc;
}

int coupon_lock(struct db *db, long long coupon_id, long long user_id, long long product_id,
		long long total, const char *order_sn, long long *discount, const char **why)
{
	int rc = coupon_check(db, coupon_id, user_id, product_id, total, discount, why);
	if (rc)
		return rc;
	/* The guard: a concurrent order that read the same unused coupon waits on the row
	 * here and then changes nothing. */
	rc = db_exec(db,
		     "UPDATE flashsale_coupon.coupon SET status = 1, order_sn = ?, update_time = "
		     "UNIX_TIMESTAMP() WHERE id = ? AND user_id = ? AND status = 0",
		     "sii", order_sn, coupon_id, user_id);
	if (rc)
		return rc;
	if (db_affected_rows(db) != 1) {
		*why = "coupon is locked to another order";
		return COUPON_UNUSABLE;
	}
	return COUPON_OK;
}

int coupon_use(struct db *db, const char *order_sn)
{
	int rc = db_exec(db,
			 "UPDATE flashsale_coupon.coupon SET status = 2, use_time = "
			 "UNIX_TIMESTAMP(), update_time = UNIX_TIMESTAMP() "
			 "WHERE order_sn = ? AND status = 1",
			 "s", order_sn);
	if (rc)
		log_error("coupon of paid order %s not marked used (%d)", order_sn, rc);
	return rc;
}

int coupon_release(struct db *db, const char *order_sn)
{
	/* Back to unused; one whose validity ended meanwhile reads as expired from then on. */
	return db_exec(
	    db,
	    "UPDATE flashsale_coupon.coupon SET status = 0, order_sn = '', update_time = "
	    "UNIX_TIMESTAMP() WHERE order_sn = ? AND status = 1",
	    "s", order_sn);
}

int coupon_best(struct db *db, long long user_id, long long product_id, long long total,
		long long *coupon_id, long long *discount)
{
	json_t *rows = NULL, *c;
	size_t i;
	long long now = (long long)time(NULL);
	int rc = db_query(db, &rows,
			  "SELECT " COUPON_TERMS "WHERE c.user_id = ? AND c.status = 0 AND "
			  "c.valid_from <= ? AND c.valid_to > ? ORDER BY c.valid_to LIMIT 500",
			  "iiii", product_id, user_id, now, now);
	*coupon_id = 0;
	*discount = 0;
	if (rc)
		return rc;
	json_array_foreach(rows, i, c)
	{
		long long d = 0;
		const char *why;
		if (coupon_usable(c, user_id, total, now, &d, &why) == COUPON_OK && d > *discount) {
			*discount = d;
			*coupon_id = col(c, "id");
		}
	}
	json_decref(rows);
	return DB_OK;
}
