/* main.c - the order FastCGI program: its route table. */
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
};

int main(int argc, char **argv)
{
	return http_main("order", order_routes, sizeof order_routes / sizeof order_routes[0], NULL,
			 argc, argv);
}
