/* test-breaker.c - breaker.h: allow, fail, ok and the cooldown window. */
#include <check.h>
#include <stdlib.h>
#include <time.h>

#include "breaker.h"

/* Sleep for ms milliseconds. */
static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* The clock is monotonic and counts milliseconds. */
START_TEST(test_clock)
{
	long long a = breaker_now_ms();
	sleep_ms(50);
	long long b = breaker_now_ms();
	ck_assert_int_ge(b - a, 49);
	ck_assert_int_lt(b - a, 1000);
	ck_assert_int_ge(breaker_now_ms(), b);
}
END_TEST

/* A fresh (zeroed) breaker is closed: callers may try. */
START_TEST(test_fresh_allows)
{
	struct breaker b = {.cooldown_ms = 1000};
	ck_assert_int_eq(breaker_allow(&b), 1);
	ck_assert_uint_eq(b.failures, 0);
}
END_TEST

/* After a failure the breaker refuses until the cooldown has passed, then allows again. */
START_TEST(test_cooldown)
{
	struct breaker b = {.cooldown_ms = 200};
	long long t0 = breaker_now_ms();
	breaker_fail(&b);
	ck_assert_int_eq(breaker_allow(&b), 0);
	ck_assert_uint_eq(b.failures, 1);
	sleep_ms(100);
	ck_assert_msg(breaker_allow(&b) == 0 || breaker_now_ms() - t0 >= 200,
		      "allowed during cooldown");
	while (breaker_now_ms() - t0 < 230)
		sleep_ms(10);
	ck_assert_int_eq(breaker_allow(&b), 1);
}
END_TEST

/* Success closes an open breaker at once and resets the failure count. */
START_TEST(test_ok_closes)
{
	struct breaker b = {.cooldown_ms = 60000};
	breaker_fail(&b);
	breaker_fail(&b);
	breaker_fail(&b);
	ck_assert_uint_eq(b.failures, 3);
	ck_assert_int_eq(breaker_allow(&b), 0);
	breaker_ok(&b);
	ck_assert_int_eq(breaker_allow(&b), 1);
	ck_assert_uint_eq(b.failures, 0);
}
END_TEST

/* A failure after the cooldown opens the breaker again for a full cooldown. */
START_TEST(test_fail_again)
{
	struct breaker b = {.cooldown_ms = 100};
	breaker_fail(&b);
	sleep_ms(130);
	ck_assert_int_eq(breaker_allow(&b), 1);
	breaker_fail(&b);
	ck_assert_int_eq(breaker_allow(&b), 0);
	ck_assert_uint_eq(b.failures, 2);
	ck_assert_int_ge(b.open_until_ms - breaker_now_ms(), 50);
}
END_TEST

/* With a zero cooldown a failure never blocks the next caller. */
START_TEST(test_zero_cooldown)
{
	struct breaker b = {.cooldown_ms = 0};
	breaker_fail(&b);
	ck_assert_int_eq(breaker_allow(&b), 1);
	ck_assert_uint_eq(b.failures, 1);
}
END_TEST

/* The suite of this file. */
static Suite *breaker_suite(void)
{
	Suite *s = suite_create("breaker");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_clock);
	tcase_add_test(tc, test_fresh_allows);
	tcase_add_test(tc, test_cooldown);
	tcase_add_test(tc, test_ok_closes);
	tcase_add_test(tc, test_fail_again);
	tcase_add_test(tc, test_zero_cooldown);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int main(void)
{
	SRunner *sr = srunner_create(breaker_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
