/* order-cancel.c - the owner cancels a waiting order; its units go back (orders.c). */
#include <time.h>

#include "log.h"
#include "order.h"
#include "orders.h"

/* Publish order.closed for an order the user cancelled (best effort: the cancel is committed). */
static void order_publish_closed(struct app *app, const char *sn)
{
	struct order_app *oa = app->domain;
	json_t *ev = json_pack("{s:s,s:s,s:I}", "orderSn", sn, "reason", "user", "closeTime",
			       (json_int_t)time(NULL));
	if (!oa || !oa->bus || !ev || event_publish(oa->bus, "order.closed", sn, ev) < 0)
		log_json(LOG_WARN, "order.closed not published", json_pack("{s:s}", "sn", sn));
	json_decref(ev);
}

int order_cancel(struct app *app, struct http_req *req)
{
	const char *sn;
	int rc;

	if ((rc = param_str(req, "sn", 1, 1, ORDER_SN_MAX, &sn)))
		return rc;
	if ((rc = order_close_trades(app, req, sn)))
		return rc;
	switch ((rc = orders_cancel(app->db, app->cache, sn, req->claims.user_id, "user"))) {
	case DB_CHANGED: order_publish_closed(app, sn); return 0;
	case DB_UNCHANGED:
		return http_fail(req, E_ORDER_STATE, "only a waiting order can be cancelled");
	case DB_NOT_FOUND: return E_ORDER_NOT_FOUND;
	default: return err_from_db(rc);
	}
}
