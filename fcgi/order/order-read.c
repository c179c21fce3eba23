/* order-read.c - the caller's orders: a page of the list (newest first) and one order. */
#include "order.h"

/* Every tradeState, for the list filter. */
#define ORDER_STATE_ALL -99

int order_list(struct app *app, struct http_req *req)
{
	long long last_id = 0, page_size = 10, state = ORDER_STATE_ALL;
	json_t *rows = NULL;
	int rc;

	if ((rc = param_int(req, "lastId", 0, 0, 9223372036854775807LL, &last_id)) ||
	    (rc = param_int(req, "pageSize", 0, 1, 100, &page_size)) ||
	    (rc = param_int(req, "tradeState", 0, ORDER_STATE_ALL, 3, &state)))
		return rc;
	if (state != ORDER_STATE_ALL && state < -1)
		return http_fail(req, E_PARAM, "tradeState must be -99 (all) or -1 to 3");
	rc = db_query(db_reader(app->db), &rows,
		      "SELECT " ORDER_COLUMNS " FROM flashsale_order.orders "
		      "WHERE user_id = ? AND (? = 0 OR id < ?) AND (? = -99 OR trade_state = ?) "
		      "ORDER BY id DESC LIMIT ?",
		      "iiiiii", req->claims.user_id, last_id, last_id, state, state, page_size);
	if (rc)
		return err_from_db(rc);
	req->data = json_pack("{s:o}", "list", rows);
	return 0;
}

int order_detail(struct app *app, struct http_req *req)
{
	const char *sn;
	json_t *row = NULL;
	int rc;

	if ((rc = param_str(req, "sn", 1, 1, ORDER_SN_MAX, &sn)))
		return rc;
	rc = db_query_row(app->db, &row,
			  "SELECT " ORDER_COLUMNS " FROM flashsale_order.orders "
			  "WHERE sn = ? AND user_id = ?",
			  "si", sn, req->claims.user_id);
	if (rc)
		return err_from_db(rc);
	if (!row)
		return E_ORDER_NOT_FOUND;
	req->data = json_pack("{s:o}", "order", row);
	return 0;
}
