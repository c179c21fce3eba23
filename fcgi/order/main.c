/* main.c - the order FastCGI program: its route table and start-up. */
#include "log.h"
#include "order.h"

static const struct route order_routes[] = {
    {.method = "POST",
     .path = "/order/v1/order/create",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = order_create},
    {.method = "POST",
     .path = "/order/v1/order/list",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = order_list},
    {.method = "POST",
     .path = "/order/v1/order/detail",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = order_detail},
    {.method = "POST",
     .path = "/order/v1/order/cancel",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = order_cancel},
    {.method = "POST",
     .path = "/order/v1/order/quote",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = order_quote},
    {.method = "POST",
     .path = "/order/v1/order/refund",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = order_refund},
    {.method = "POST",
     .path = "/order/v1/order/refunds",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = order_refunds},
    {.method = "POST",
     .path = "/order/v1/admin/order/list",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = order_admin_list},
    {.method = "POST",
     .path = "/order/v1/admin/order/refund",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = order_admin_refund},
};

/* The WeChat Pay client (refunds) and the event bus; refunds stay recorded without [wxpay]. */
static int order_init(struct app *app)
{
	static struct order_app oa;
	char err[512];

	oa.wx = wxpay_new(&app->cfg, err, sizeof err);
	if (!oa.wx)
		log_warn("WeChat Pay disabled: refunds are recorded, refund-query sends them (%s)",
			 err);
	oa.bus = event_bus_new(&app->cfg, app->cache);
	if (!oa.bus) {
		log_error("cannot create the event bus");
		wxpay_free(oa.wx);
		return -1;
	}
	app->domain = &oa;
	return 0;
}

int main(int argc, char **argv)
{
	return http_main("order", order_routes, sizeof order_routes / sizeof order_routes[0],
			 order_init, argc, argv);
}
