/* orders.c - state changes of an order: cancel (units go back exactly once) and mark paid. */
#include "orders.h"

#include <string.h>

#include "activity.h"
#include "coupon.h"
#include "log.h"
#include "stock.h"

/* The facts of an order that a cancellation needs. */
struct order_units {
	long long id, user_id, product_id, activity_id, order_type, quantity;
};

/* Lock the order row (optionally only the owner's); DB_OK, DB_NOT_FOUND or a db_rc. */
static int order_lock(struct db *db, const char *sn, long long user_id, struct order_units *o)
{
	json_t *row = NULL;
	int rc = db_query_row(db, &row,
			      "SELECT id, user_id, product_id, activity_id, order_type, quantity "
			      "FROM flashsale_order.orders WHERE sn = ? AND (? = 0 OR user_id = ?) "
			      "FOR UPDATE",
			      "sii", sn, user_id, user_id);
	if (rc)
		return rc;
	if (!row)
		return DB_NOT_FOUND;
	o->id = json_integer_value(json_object_get(row, "id"));
	o->user_id = json_integer_value(json_object_get(row, "user_id"));
	o->product_id = json_integer_value(json_object_get(row, "product_id"));
	o->activity_id = json_integer_value(json_object_get(row, "activity_id"));
	o->order_type = json_integer_value(json_object_get(row, "order_type"));
	o->quantity = json_integer_value(json_object_get(row, "quantity"));
	json_decref(row);
	return DB_OK;
}

int orders_cancel(struct db *db, struct cache *c, const char *sn, long long user_id,
		  const char *reason)
{
	struct order_units o = {0};
	int rc;

	if (!sn || !*sn)
		return DB_NOT_FOUND;
	if ((rc = db_begin(db)))
		return rc;
	if ((rc = order_lock(db, sn, user_id, &o)))
		goto fail;
	rc = db_exec(db,
		     "UPDATE flashsale_order.orders SET trade_state = -1, cancel_reason = ?, "
		     "version = version + 1, update_time = UNIX_TIMESTAMP() "
		     "WHERE id = ? AND trade_state = 0",
		     "si", reason ? reason : "", o.id);
	if (rc)
		goto fail;
	if (db_affected_rows(db) != 1) {
		rc = DB_UNCHANGED;
		goto fail;
	}
	/* Only the update that changed the state gets here: units return exactly once. */
	if (o.order_type == 1)
		rc = activity_return_db(db, o.activity_id, o.user_id, o.quantity);
	else
		rc = stock_product_return(db, o.product_id, o.quantity);
	if (rc || (rc = coupon_release(db, sn)))
		goto fail;
	if ((rc = db_commit(db)))
		return rc;
	if (o.order_type == 1 && c)
		activity_return_cache(c, o.activity_id, o.user_id, o.quantity);
	if (c)
		stock_product_uncache(c, o.product_id);
	log_json(LOG_INFO, "order cancelled",
		 json_pack("{s:s, s:s, s:I, s:I}", "sn", sn, "reason", reason ? reason : "",
			   "quantity", (json_int_t)o.quantity, "activityId",
			   (json_int_t)o.activity_id));
	return DB_CHANGED;
fail:
	db_rollback(db);
	return rc;
}

int orders_mark_paid(struct db *db, const char *sn, long long pay_time, const char *pay_type)
{
	json_t *row = NULL;
	int rc;

	if (!sn || !*sn)
		return DB_NOT_FOUND;
	rc = db_exec(
	    db,
	    "UPDATE flashsale_order.orders SET trade_state = 1, pay_time = ?, pay_type = ?, "
	    "version = version + 1, update_time = UNIX_TIMESTAMP() "
	    "WHERE sn = ? AND trade_state = 0",
	    "iss", pay_time, pay_type ? pay_type : "", sn);
	if (rc)
		return rc;
	if (db_affected_rows(db) == 1) {
		coupon_use(db, sn); /* its coupon, if any: locked -> used (a failure is logged) */
		return DB_CHANGED;
	}
	rc = db_query_row(db, &row, "SELECT trade_state FROM flashsale_order.orders WHERE sn = ?",
			  "s", sn);
	if (rc)
		return rc;
	if (!row)
		return DB_NOT_FOUND;
	json_decref(row);
	return DB_UNCHANGED;
}
