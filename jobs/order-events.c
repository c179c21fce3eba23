/*
 * order-events.c - flashsale-order-events: payment.status events -> the order is
 * paid (state-guarded, so duplicates apply once) -> an order.paid event.
 * Runs supervised; at-least-once: a redelivered event finds the order paid and
 * publishes order.paid again, which its consumers treat idempotently.
 */
#include <string.h>
#include <time.h>

#include "job.h"
#include "log.h"
#include "orders.h"

/* The consumer group of this job on payment.status. */
#define ORDER_EVENTS_GROUP "order-events"

/* A string field of an event, or NULL. */
static const char *ev_str(json_t *ev, const char *name)
{
	return json_string_value(json_object_get(ev, name));
}

/* An integer field of an event, or def. */
static long long ev_int(json_t *ev, const char *name, long long def)
{
	json_t *v = json_object_get(ev, name);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* Did the payment succeed? (status "SUCCESS", or payStatus 1 as fcgi/payment sends.) */
static int ev_paid(json_t *ev)
{
	const char *status = ev_str(ev, "status");
	if (status)
		return !strcmp(status, "SUCCESS");
	return ev_int(ev, "payStatus", 0) == 1;
}

/*
 * Publish order.paid for a paid order row, with the payer's openid when the
 * payment event named one (notify sends the subscribe message there). 0 or -1.
 */
static int order_paid_publish(struct job *j, json_t *order, json_t *pay)
{
	json_t *ev = json_pack(
	    "{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "orderSn", json_object_get(order, "sn"),
	    "userId", json_object_get(order, "userId"), "total", json_object_get(order, "total"),
	    "payTime", json_object_get(order, "payTime"), "productId",
	    json_object_get(order, "productId"), "title", json_object_get(order, "title"),
	    "quantity", json_object_get(order, "quantity"), "merchantId",
	    json_object_get(order, "merchantId"));
	const char *openid = ev_str(pay, "openid");
	if (ev && openid && *openid && strlen(openid) <= 64)
		json_object_set_new(ev, "openid", json_string(openid));
	int rc = ev ? event_publish(j->bus, "order.paid",
				    json_string_value(json_object_get(order, "sn")), ev)
		    : -1;
	json_decref(ev);
	return rc;
}

/* Load the facts order.paid carries; 0 (*order NULL if none) or -1. */
static int order_load(struct job *j, const char *sn, json_t **order)
{
	int rc = db_query_row(j->db, order,
			      "SELECT sn, user_id AS userId, pay_total AS total, "
			      "pay_time AS payTime, trade_state AS tradeState, "
			      "product_id AS productId, title, quantity, merchant_id AS merchantId "
			      "FROM flashsale_order.orders WHERE sn = ?",
			      "s", sn);
	return rc ? -1 : 0;
}

/*
 * After a state-guarded update changed nothing: 1 when the order is paid (or
 * completed) and order.paid should go out again, 0 when there is nothing to
 * announce, -1 to retry. *order is reloaded.
 */
static int order_already_paid(struct job *j, const char *sn, json_t *ev, json_t **order)
{
	json_decref(*order);
	*order = NULL;
	if (order_load(j, sn, order) < 0 || !*order)
		return -1;
	long long state = json_integer_value(json_object_get(*order, "tradeState"));
	if (state == -1) {
		/* Money arrived for a cancelled order: payment_apply recorded its full refund. */
		log_json(
		    LOG_WARN, "payment for a cancelled order; refunded automatically",
		    json_pack("{s:s, s:s?}", "orderSn", sn, "paymentSn", ev_str(ev, "paymentSn")));
		return 0;
	}
	return state == 1 || state == 2;
}

/* Handle one payment.status event: 0 when done with it, -1 to see it again. */
static int on_payment_status(void *ctx, const char *topic, const char *key, json_t *ev)
{
	struct job *j = ctx;
	json_t *order = NULL;
	int rc = 0;
	const char *sn = ev_str(ev, "orderSn");

	if (!sn || !*sn || strlen(sn) > 64) {
		log_json(LOG_ERROR, "payment.status without a valid orderSn; dropped",
			 json_pack("{s:s}", "key", key));
		return 0;
	}
	if (!ev_paid(ev)) {
		log_json(LOG_INFO, "payment not successful; order unchanged",
			 json_pack("{s:s}", "orderSn", sn));
		return 0;
	}
	if (order_load(j, sn, &order) < 0)
		return -1;
	if (!order) {
		log_json(LOG_ERROR, "payment.status for an unknown order; dropped",
			 json_pack("{s:s}", "orderSn", sn));
		return 0;
	}
	long long total = json_integer_value(json_object_get(order, "total"));
	long long amount = ev_int(ev, "amount", ev_int(ev, "payTotal", total));
	if (amount != total) {
		log_json(LOG_ERROR, "payment amount differs from the order total; order unchanged",
			 json_pack("{s:s, s:I, s:I}", "orderSn", sn, "amount", (json_int_t)amount,
				   "total", (json_int_t)total));
		goto out;
	}
	long long pay_time = ev_int(ev, "payTime", 0);
	if (pay_time <= 0)
		pay_time = (long long)time(NULL);
	const char *pay_type = ev_str(ev, "payType");
	if (!pay_type || !*pay_type || strlen(pay_type) > 16) /* orders.pay_type is 16 wide */
		pay_type = "wxpay";
	int changed = orders_mark_paid(j->db, sn, pay_time, pay_type);
	if (changed < 0 || changed == DB_NOT_FOUND) {
		rc = changed < 0 ? -1 : 0;
		goto out;
	}
	if (changed == DB_CHANGED) {
		json_object_set_new(order, "payTime", json_integer(pay_time));
		log_json(LOG_INFO, "order paid",
			 json_pack("{s:s, s:s?, s:I}", "orderSn", sn, "transactionId",
				   ev_str(ev, "transactionId"), "total", (json_int_t)total));
	} else {
		int again = order_already_paid(j, sn, ev, &order);
		if (again <= 0) {
			rc = again;
			goto out;
		}
	}
	/* Also when it was already paid: an earlier run may have died before publishing. */
	if (order_paid_publish(j, order, ev) < 0)
		rc = -1;
out:
	json_decref(order);
	return rc;
}

/* Consume payment.status until job_stop. */
static int order_events_run(struct job *j)
{
	log_info("order-events ready (transport %s)", j->cfg.events_transport);
	return event_consume(j->bus, ORDER_EVENTS_GROUP, "payment.status", on_payment_status, j,
			     &job_stop)
		   ? 1
		   : 0;
}

static const struct job_entry order_events_entry = {
    .name = "order-events",
    .needs = JOB_DB | JOB_CACHE | JOB_BUS | JOB_DAEMON,
    .run = order_events_run,
};

int main(int argc, char **argv)
{
	return job_main(&order_events_entry, argc, argv);
}
