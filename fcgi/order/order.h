/* order.h - handlers of the order program (fcgi/order). */
#ifndef FS_ORDER_H
#define FS_ORDER_H

#include "http.h"

/* The columns of an order as API.md names them (for SELECT ... FROM flashsale_order.orders). */
#define ORDER_COLUMNS                                                                              \
	"id, sn, user_id AS userId, product_id AS productId, activity_id AS activityId, "          \
	"IF(order_type = 1, 'seckill', 'normal') AS orderType, title, cover, quantity, "           \
	"unit_price AS unitPrice, total_price AS totalPrice, trade_state AS tradeState, "          \
	"create_time AS createTime, pay_deadline AS payDeadline, pay_time AS payTime, "            \
	"pay_type AS payType, remark"

/* Longest order sn accepted in a request (ids.h makes 40 at most). */
#define ORDER_SN_MAX 64

/* order-create.c: create a normal order */
int order_create(struct app *app, struct http_req *req);

/* order-read.c: list and detail of the caller's orders */
int order_list(struct app *app, struct http_req *req);
int order_detail(struct app *app, struct http_req *req);

/* order-cancel.c: cancel a waiting order */
int order_cancel(struct app *app, struct http_req *req);

#endif
