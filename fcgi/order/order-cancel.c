/* order-cancel.c - the owner cancels a waiting order; its units go back (orders.c). */
#include "order.h"
#include "orders.h"

int order_cancel_route(struct app *app, struct http_req *req)
{
	const char *sn;
	int rc;

	if ((rc = param_str(req, "sn", 1, 1, ORDER_SN_MAX, &sn)))
		return rc;
	switch (order_cancel(app->db, app->cache, sn, req->claims.user_id, "user")) {
	case ORDER_CHANGED: return 0;
	case ORDER_UNCHANGED:
		return http_fail(req, E_ORDER_STATE, "only a waiting order can be cancelled");
	case ORDER_NOT_FOUND: return E_ORDER_NOT_FOUND;
	case DB_DOWN: return E_DB_BUSY;
	default: return E_SERVER;
	}
}
