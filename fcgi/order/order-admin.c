/* order-admin.c - admins: every user's orders (filtered), and a refund of any paid order. */
#include "order.h"
#include "refund.h"

/* Every tradeState, for the list filter. */
#define ORDER_STATE_ALL -99

int order_admin_list(struct app *app, struct http_req *req)
{
	long long last_id = 0, page_size = 20, state = ORDER_STATE_ALL, user_id = 0;
	const char *sn = NULL;
	json_t *rows = NULL;
	int rc;

	if ((rc = param_int(req, "lastId", 0, 0, 9223372036854775807LL, &last_id)) ||
	    (rc = param_int(req, "pageSize", 0, 1, 100, &page_size)) ||
	    (rc = param_int(req, "tradeState", 0, ORDER_STATE_ALL, 3, &state)) ||
	    (rc = param_int(req, "userId", 0, 0, 9223372036854775807LL, &user_id)) ||
	    (rc = param_str(req, "sn", 0, 0, ORDER_SN_MAX, &sn)))
		return rc;
	if (state != ORDER_STATE_ALL && state < -1)
		return http_fail(req, E_PARAM, "tradeState must be -99 (all) or -1 to 3");
	rc = db_query(app->db, &rows,
		      "SELECT " ORDER_COLUMNS " FROM flashsale_order.orders "
		      "WHERE (? = 0 OR id < ?) AND (? = -99 OR trade_state = ?) "
		      "AND (? = 0 OR user_id = ?) AND (? = '' OR sn = ?) "
		      "ORDER BY id DESC LIMIT ?",
		      "iiiiiissi", last_id, last_id, state, state, user_id, user_id, sn ? sn : "",
		      sn ? sn : "", page_size);
	if (rc)
		return err_from_db(rc);
	req->data = json_pack("{s:o}", "list", rows);
	return 0;
}

int order_admin_refund(struct app *app, struct http_req *req)
{
	const char *sn, *reason;
	long long amount = 0;
	char rsn[REFUND_SN_MAX + 8];
	int rc;

	if ((rc = param_str(req, "sn", 1, 1, ORDER_SN_MAX, &sn)) ||
	    (rc = param_int(req, "amount", 0, 1, 100000000000LL, &amount)) ||
	    (rc = param_str(req, "reason", 1, 1, 80, &reason)))
		return rc;
	struct refund_ask a = {.order_sn = sn,
			       .user_id = 0,
			       .amount = amount,
			       .reason = reason,
			       .source = "admin",
			       .window = 0};
	rc = refund_create(app->db, &a, rsn, sizeof rsn);
	return order_refund_answer(app, req, rc, rsn);
}
