/* payment.h - handlers of the payment program (fcgi/payment): WeChat Pay v3. */
#ifndef FS_PAYMENT_H
#define FS_PAYMENT_H

#include "event.h"
#include "http.h"
#include "wxpay.h"

/* The payment program's state (app->domain). */
struct payment_app {
	struct wxpay *wx;      /* NULL when [wxpay] is not configured */
	struct event_bus *bus; /* payment.status events */
};

/* pay-prepay.c: start a payment, read its state */
int pay_wxpay(struct app *app, struct http_req *req);
int pay_detail(struct app *app, struct http_req *req);

/* pay-callback.c: WeChat Pay's notifications (payment and refund callbacks alike) */
int pay_callback(struct app *app, struct http_req *req);

/* pay-refund.c: a decrypted REFUND.* resource -> HTTP status (why set on refusal); metrics */
int pay_on_refund(struct app *app, json_t *res, const char **why);
int pay_metrics_refresh(struct app *app);

#endif
