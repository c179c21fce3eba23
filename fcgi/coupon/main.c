/* main.c - the coupon FastCGI program: its route table. */
#include "coupon-fcgi.h"

static const struct route coupon_routes[] = {
    {.method = "GET",
     .path = "/coupon/v1/template/list",
     .flags = 0,
     .handler = coupon_template_list},
    {.method = "POST",
     .path = "/coupon/v1/coupon/claim",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = coupon_claim},
    {.method = "POST",
     .path = "/coupon/v1/coupon/result",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = coupon_result},
    {.method = "POST",
     .path = "/coupon/v1/coupon/redeem",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = coupon_redeem},
    {.method = "POST",
     .path = "/coupon/v1/coupon/mine",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = coupon_mine},
    {.method = "POST",
     .path = "/coupon/v1/admin/template/create",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = coupon_template_create},
    {.method = "POST",
     .path = "/coupon/v1/admin/template/stop",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = coupon_template_stop},
    {.method = "POST",
     .path = "/coupon/v1/admin/code/batch",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = coupon_code_batch},
};

int coupon_code_of(struct http_req *req, int rc, const char *why)
{
	int code = coupon_err(rc);
	return why && rc > 0 ? http_fail(req, code, "%s", why) : code;
}

int main(int argc, char **argv)
{
	return http_main("coupon", coupon_routes, sizeof coupon_routes / sizeof coupon_routes[0],
			 coupon_claim_init, argc, argv);
}
