/* order-cancel.c - the owner cancels a waiting order; its units go back (orders.c). */
#include "order.h"
#include "orders.h"

int order_cancel(struct app *app, struct http_req *req)
{
	const char *sn;
	int rc;

	if ((rc = param_str(req, "sn", 1, 1, ORDER_SN_MAX, &sn)))
		return rc;
	switch ((rc = orders_cancel(app->db, app->cache, sn, req->claims.user_id, "user"))) {
	case DB_CHANGED: return 0;
	case DB_UNCHANGED:
		return http_fail(req, E_ORDER_STATE, "only a waiting order can be cancelled");
	case DB_NOT_FOUND: return E_ORDER_NOT_FOUND;
	default: return err_from_db(rc);
	}
}
