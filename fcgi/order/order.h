/* order.h - handlers of the order program (fcgi/order). */
#ifndef FS_ORDER_H
#define FS_ORDER_H

#include "event.h"
#include "http.h"
#include "wxpay.h"

/* The order program's state (app->domain). */
struct order_app {
	struct wxpay *wx;      /* refunds at WeChat; NULL when [wxpay] is not configured */
	struct event_bus *bus; /* order.closed, order.refunded */
};

/* The columns of an order as API.md names them (for SELECT ... FROM flashsale_order.orders). */
#define ORDER_COLUMNS                                                                              \
	"id, sn, user_id AS userId, product_id AS productId, activity_id AS activityId, "          \
	"IF(order_type = 1, 'seckill', 'normal') AS orderType, title, cover, quantity, "           \
	"unit_price AS unitPrice, total_price AS totalPrice, trade_state AS tradeState, "          \
	"create_time AS createTime, pay_deadline AS payDeadline, pay_time AS payTime, "            \
	"pay_type AS payType, remark, coupon_id AS couponId, discount, pay_total AS payTotal, "    \
	"refunded, (SELECT r.status FROM flashsale_payment.refund r WHERE r.order_sn = orders.sn " \
	"ORDER BY r.id DESC LIMIT 1) AS refundStatus"

/* Longest order sn accepted in a request (ids.h makes 40 at most). */
#define ORDER_SN_MAX 64

/* order-create.c: create a normal order */
int order_create(struct app *app, struct http_req *req);

/* order-read.c: list and detail of the caller's orders */
int order_list(struct app *app, struct http_req *req);
int order_detail(struct app *app, struct http_req *req);

/* order-cancel.c: cancel a waiting order */
int order_cancel(struct app *app, struct http_req *req);

/* order-quote.c: the price breakdown with a coupon, and the best usable one */
int order_quote(struct app *app, struct http_req *req);

/* order-close.c: close the caller's waiting order's open trades at WeChat; 0 or an API code */
int order_close_trades(struct app *app, struct http_req *req, const char *sn);

/* order-caps.c: 0 if the user may hold quantity more unpaid units of product_id, else 100007 */
int order_unpaid_caps(struct app *app, struct http_req *req, long long product_id,
		      long long quantity);

/* order-refund.c: a user's refund of their paid order, and the refunds of an order */
int order_refund(struct app *app, struct http_req *req);
int order_refunds(struct app *app, struct http_req *req);
/* The answer of a refund request: refundSn, status (shared with the admin route). */
int order_refund_answer(struct app *app, struct http_req *req, int created, const char *sn);

/* order-admin.c: every user's orders, and an admin refund (partial or full) */
int order_admin_list(struct app *app, struct http_req *req);
int order_admin_refund(struct app *app, struct http_req *req);

#endif
