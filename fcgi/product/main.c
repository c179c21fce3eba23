/* main.c - the product FastCGI program: its route table. */
#include "product.h"

static const struct route product_routes[] = {
    {.method = "GET", .path = "/product/v1/product/list", .flags = 0, .handler = product_list},
    {.method = "GET", .path = "/product/v1/product/detail", .flags = 0, .handler = product_detail},
    {.method = "POST",
     .path = "/product/v1/admin/product/create",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = product_create},
    {.method = "POST",
     .path = "/product/v1/admin/product/update",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = product_update},
    {.method = "POST",
     .path = "/product/v1/admin/product/delete",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = product_delete},
};

int main(int argc, char **argv)
{
	return http_main("product", product_routes,
			 sizeof product_routes / sizeof product_routes[0], NULL, argc, argv);
}
