/* main.c - the usercenter FastCGI program: its route table. */
#include "usercenter.h"

static const struct route usercenter_routes[] = {
    {.method = "POST",
     .path = "/usercenter/v1/user/register",
     .flags = ROUTE_BODY,
     .handler = user_register},
    {.method = "POST",
     .path = "/usercenter/v1/user/login",
     .flags = ROUTE_BODY,
     .handler = user_login},
    {.method = "POST",
     .path = "/usercenter/v1/user/detail",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = user_detail},
    {.method = "POST",
     .path = "/usercenter/v1/user/update",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = user_update},
    {.method = "POST",
     .path = "/usercenter/v1/user/refresh",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = user_refresh},
    {.method = "POST",
     .path = "/usercenter/v1/user/logout",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = user_logout},
};

int main(int argc, char **argv)
{
	return http_main("usercenter", usercenter_routes,
			 sizeof usercenter_routes / sizeof usercenter_routes[0], NULL, argc, argv);
}
