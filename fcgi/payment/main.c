/* main.c - the payment FastCGI program: its route table and start-up. */
#include <stdlib.h>

#include "log.h"
#include "payment.h"

static const struct route payment_routes[] = {
    {.method = "POST",
     .path = "/payment/v1/thirdPayment/thirdPaymentWxPay",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = pay_wxpay},
    {.method = "POST",
     .path = "/payment/v1/thirdPayment/thirdPaymentWxPayCallback",
     .flags = ROUTE_RAW,
     .handler = pay_callback},
    {.method = "POST",
     .path = "/payment/v1/thirdPayment/thirdPaymentWxRefundCallback",
     .flags = ROUTE_RAW,
     .handler = pay_callback},
    {.method = "POST",
     .path = "/payment/v1/thirdPayment/detail",
     .flags = ROUTE_AUTH | ROUTE_BODY,
     .handler = pay_detail},
};

/* Load the WeChat Pay client and the event bus; payments stay off (500003) without [wxpay]. */
static int payment_init(struct app *app)
{
	static struct payment_app pa;
	char err[512];

	pa.wx = wxpay_new(&app->cfg, err, sizeof err);
	if (!pa.wx)
		log_warn("WeChat Pay disabled: %s", err);
	pa.bus = event_bus_new(&app->cfg, app->cache);
	if (!pa.bus) {
		log_error("cannot create the event bus");
		wxpay_free(pa.wx);
		return -1;
	}
	app->domain = &pa;
	app->metrics_refresh = pay_metrics_refresh;
	return 0;
}

int main(int argc, char **argv)
{
	return http_main("payment", payment_routes,
			 sizeof payment_routes / sizeof payment_routes[0], payment_init, argc,
			 argv);
}
