/* test-lock.c - lock.h against a real Redis: exclusive, expires, released only by its owner. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "lock.h"
#include "unit.h"

UNIT_REDIS_FIXTURE(cfg, cache, setup, teardown)

/* A lock name unique to this process. */
static const char *name(const char *what)
{
	static char buf[96];
	snprintf(buf, sizeof buf, "unittest-%ld-%s", (long)getpid(), what);
	return buf;
}

/* The second taker is refused until the first releases. */
START_TEST(test_exclusive)
{
	struct lock a, b;
	const char *n = name("excl");
	ck_assert_int_eq(lock_acquire(cache, &a, n, 10000), 1);
	ck_assert_int_eq(lock_acquire(cache, &b, n, 10000), 0);
	ck_assert_int_eq(lock_release(cache, &b), 0); /* not held: nothing happens */
	ck_assert_int_eq(lock_acquire(cache, &b, n, 10000), 0);
	ck_assert_int_eq(lock_release(cache, &a), 0);
	ck_assert_int_eq(lock_acquire(cache, &b, n, 10000), 1);
	ck_assert_int_eq(lock_release(cache, &b), 0);
}
END_TEST

/* An expired lock can be taken, and the old holder's release leaves the new one alone. */
START_TEST(test_expiry_and_owner)
{
	struct lock a, b, c;
	const char *n = name("exp");
	ck_assert_int_eq(lock_acquire(cache, &a, n, 100), 1);
	unit_sleep_ms(250);
	ck_assert_int_eq(lock_acquire(cache, &b, n, 10000), 1);
	ck_assert_int_eq(lock_release(cache, &a), 0);           /* a's token no longer matches */
	ck_assert_int_eq(lock_acquire(cache, &c, n, 10000), 0); /* so b still holds it */
	ck_assert_int_eq(lock_release(cache, &b), 0);
	ck_assert_int_eq(lock_acquire(cache, &c, n, 10000), 1);
	ck_assert_int_eq(lock_release(cache, &c), 0);
}
END_TEST

/* The suite. */
static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_exclusive);
	tcase_add_test(tc, test_expiry_and_owner);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	unit_require("test-lock", "FLASHSALE_TEST_REDIS_SOCKET");
	unit_clear_config_env();
	signal(SIGPIPE, SIG_IGN);
	return unit_status("test-lock", unit_run(lock_suite()), NULL);
}
