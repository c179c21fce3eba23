/* test-coupon.c - coupon.h: discounts (amount, percent with cap, never the whole total), keys;
 * memo.h: ids remembered for a moment. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coupon.h"
#include "memo.h"
#include "unit.h"

/* Amount off: the amount, but a payment of at least 1 fen stays. */
START_TEST(test_amount)
{
	ck_assert_int_eq(coupon_discount(1, 5000, 0, 0, 30000), 5000);
	ck_assert_int_eq(coupon_discount(1, 5000, 0, 0, 5000), 4999);
	ck_assert_int_eq(coupon_discount(1, 5000, 0, 0, 1), 0);
	ck_assert_int_eq(coupon_discount(1, 0, 0, 0, 100), 0);
}
END_TEST

/* Percent off, rounded down, capped by maxDiscount (0: no cap). */
START_TEST(test_percent)
{
	ck_assert_int_eq(coupon_discount(2, 0, 20, 0, 9999), 1999);
	ck_assert_int_eq(coupon_discount(2, 0, 20, 1000, 9999), 1000);
	ck_assert_int_eq(coupon_discount(2, 0, 99, 0, 100), 99);
	ck_assert_int_eq(coupon_discount(2, 0, 50, 0, 1), 0);
	ck_assert_int_eq(coupon_discount(3, 100, 50, 0, 1000), 0); /* unknown kind */
}
END_TEST

/* Keys of a template share its hash tag. */
START_TEST(test_key)
{
	char k[64];
	coupon_key(k, sizeof k, 42, "left");
	ck_assert_str_eq(k, "{c:42}:left");
}
END_TEST

/* The memo remembers an id until it fades; another id in the same slot replaces it. */
START_TEST(test_memo)
{
	static struct memo m;
	ck_assert(!memo_hit(&m, 7));
	memo_set(&m, 7, 200);
	ck_assert(memo_hit(&m, 7));
	ck_assert(!memo_hit(&m, 7 + MEMO_SLOTS));
	memo_set(&m, 7 + MEMO_SLOTS, 200);
	ck_assert(!memo_hit(&m, 7));
	memo_set(&m, 9, 0);
	ck_assert(!memo_hit(&m, 9));
	memo_set(&m, 11, 30);
	long long end = memo_now_ms() + 2000;
	while (memo_hit(&m, 11) && memo_now_ms() < end) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	ck_assert(!memo_hit(&m, 11));
}
END_TEST

/* Run the suite. */
int main(void)
{
	const TTest *tests[] = {test_amount, test_percent, test_key, test_memo, NULL};
	return unit_run(unit_suite("coupon", NULL, NULL, tests)) ? EXIT_FAILURE : EXIT_SUCCESS;
}
