/* main.c - the seckill FastCGI program: its route table. */
#include "activity.h"
#include "seckill.h"

static const struct route seckill_routes[] = {
    {.method = "GET",
     .path = "/seckill/v1/activity/list",
     .flags = 0,
     .handler = seckill_activity_list},
    {.method = "GET",
     .path = "/seckill/v1/activity/detail",
     .flags = 0,
     .handler = seckill_activity_detail},
    {.method = "POST",
     .path = "/seckill/v1/admin/activity/create",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = seckill_activity_create},
    {.method = "POST",
     .path = "/seckill/v1/admin/activity/cancel",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = seckill_activity_cancel},
    {.method = "GET",
     .path = "/seckill/v1/admin/dashboard",
     .flags = ROUTE_ADMIN,
     .handler = seckill_dashboard},
    {.method = "GET",
     .path = "/seckill/v1/admin/deadletters",
     .flags = ROUTE_ADMIN,
     .handler = seckill_deadletters},
    {.method = "POST",
     .path = "/seckill/v1/activity/reserve",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = seckill_activity_reserve},
    {.method = "GET",
     .path = "/seckill/v1/seckill/challenge",
     .flags = 0,
     .handler = seckill_challenge},
    {.method = "POST",
     .path = "/seckill/v1/admin/blocklist/add",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = seckill_blocklist_add},
    {.method = "POST",
     .path = "/seckill/v1/admin/blocklist/remove",
     .flags = ROUTE_ADMIN | ROUTE_BODY,
     .handler = seckill_blocklist_remove},
    {.method = "GET",
     .path = "/seckill/v1/admin/blocklist/list",
     .flags = ROUTE_ADMIN,
     .handler = seckill_blocklist_list},
    {.method = "POST",
     .path = "/seckill/v1/seckill/token",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = seckill_token},
    /*
     * ROUTE_JWT: the token is verified without the session lookup. The seckill token it
     * also requires was issued by /seckill/token, which did check the session; a logout
     * puts the jti into every live activity's revocation set, which the purchase script
     * checks in the same EVAL (common/seckill-revoke.c): no extra round trip.
     */
    {.method = "POST",
     .path = "/seckill/v1/seckill/do",
     .flags = ROUTE_JWT | ROUTE_BODY,
     .handler = seckill_do},
    {.method = "POST",
     .path = "/seckill/v1/seckill/result",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = seckill_result},
};

int main(int argc, char **argv)
{
	return http_main("seckill", seckill_routes,
			 sizeof seckill_routes / sizeof seckill_routes[0], seckill_purchase_init,
			 argc, argv);
}
