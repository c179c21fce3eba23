/* test-orders.c - orders.h against the test servers: guarded cancel and paid, units back once. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ids.h"
#include "orders.h"
#include "unit-shop.h"

/* A fresh order number. */
static void new_sn(char *sn, size_t len)
{
	id_sn_new(sn, len, "ORD");
}

/* A normal order cancelled once: its units back to the product once; then UNCHANGED. */
START_TEST(test_cancel_normal)
{
	char sn[ID_SN_MAX];
	long long pid = shop_product(7);
	new_sn(sn, sizeof sn);
	shop_order(sn, 1001, pid, 0, 3);
	ck_assert_int_eq(orders_cancel(db, cache, sn, 2002, "user"), DB_NOT_FOUND); /* not yours */
	ck_assert_int_eq(orders_cancel(db, cache, sn, 1001, "user"), DB_CHANGED);
	ck_assert_int_eq(shop_int("SELECT stock FROM flashsale_product.product WHERE id = ?", pid),
			 10);
	ck_assert_int_eq(orders_cancel(db, cache, sn, 0, "timeout"), DB_UNCHANGED);
	ck_assert_int_eq(shop_int("SELECT stock FROM flashsale_product.product WHERE id = ?", pid),
			 10);
	ck_assert_int_eq(orders_cancel(db, cache, "ORDnosuchorder", 0, "timeout"), DB_NOT_FOUND);
	ck_assert_int_eq(orders_cancel(db, cache, "", 0, "timeout"), DB_NOT_FOUND);
}
END_TEST

/* A seckill order's units go back to its activity (sold drops), not to the product. */
START_TEST(test_cancel_seckill)
{
	char sn[ID_SN_MAX];
	long long pid = shop_product(0), aid = shop_activity(pid, 5, 2);
	new_sn(sn, sizeof sn);
	shop_order(sn, 1001, pid, aid, 2);
	ck_assert_int_eq(orders_cancel(db, NULL, sn, 1001, "user"), DB_CHANGED);
	ck_assert_int_eq(shop_int("SELECT sold FROM flashsale_seckill.activity WHERE id = ?", aid),
			 0);
	ck_assert_int_eq(shop_int("SELECT stock FROM flashsale_product.product WHERE id = ?", pid),
			 0);
}
END_TEST

/* Paid once; a paid order cannot be cancelled (its units stay sold). */
START_TEST(test_mark_paid)
{
	char sn[ID_SN_MAX];
	long long pid = shop_product(5);
	new_sn(sn, sizeof sn);
	shop_order(sn, 1001, pid, 0, 1);
	ck_assert_int_eq(orders_mark_paid(db, sn, 1700000000, "wxpay"), DB_CHANGED);
	ck_assert_int_eq(orders_mark_paid(db, sn, 1700000001, "wxpay"), DB_UNCHANGED);
	ck_assert_int_eq(orders_mark_paid(db, "ORDnosuchorder", 1, "wxpay"), DB_NOT_FOUND);
	ck_assert_int_eq(orders_cancel(db, cache, sn, 0, "timeout"), DB_UNCHANGED);
	ck_assert_int_eq(shop_int("SELECT stock FROM flashsale_product.product WHERE id = ?", pid),
			 5);
	ck_assert_int_eq(
	    shop_int("SELECT pay_time FROM flashsale_order.orders WHERE id = (SELECT id FROM "
		     "flashsale_order.orders WHERE pay_time = ? LIMIT 1)",
		     1700000000),
	    1700000000);
}
END_TEST

/* Needs the test stack's servers (schemas migrated); skips without them. */
int main(void)
{
	const TTest *tests[] = {test_cancel_normal, test_cancel_seckill, test_mark_paid, NULL};
	unit_require_servers("test-orders");
	return unit_status("test-orders",
			   unit_run(unit_suite("orders", shop_setup, shop_teardown, tests)), NULL);
}
