/* test-dynbuf.c - dynbuf.h: appends within the maximum, failure frees and sticks, take. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "unit.h"

/* Appends of every kind add up; the content stays NUL-terminated. */
START_TEST(test_append)
{
	struct dynbuf b;
	dynbuf_init(&b, 100);
	ck_assert_str_eq(dynbuf_ptr(&b), "");
	ck_assert_int_eq(dynbuf_addstr(&b, "ab"), 0);
	ck_assert_int_eq(dynbuf_add(&b, "cd", 2), 0);
	ck_assert_int_eq(dynbuf_printf(&b, "-%d-%s", 42, "x"), 0);
	ck_assert_str_eq(dynbuf_ptr(&b), "abcd-42-x");
	ck_assert_uint_eq(dynbuf_len(&b), 9);
	char *z = dynbuf_grow(&b, 3);
	ck_assert_ptr_nonnull(z);
	ck_assert_int_eq(z[0] | z[1] | z[2], 0);
	ck_assert_uint_eq(dynbuf_len(&b), 12);
	dynbuf_free(&b);
	ck_assert_uint_eq(dynbuf_len(&b), 0);
}
END_TEST

/* Exactly max fits; one byte more fails, frees, and every later append fails too. */
START_TEST(test_max)
{
	struct dynbuf b;
	char big[64];
	memset(big, 'x', sizeof big);
	dynbuf_init(&b, 64);
	ck_assert_int_eq(dynbuf_add(&b, big, 64), 0);
	ck_assert_uint_eq(dynbuf_len(&b), 64);
	ck_assert_int_eq(dynbuf_add(&b, "y", 1), -1);
	ck_assert_uint_eq(dynbuf_len(&b), 0);
	ck_assert_int_eq(dynbuf_addstr(&b, ""), -1); /* sticks until reset */
	ck_assert_ptr_null(dynbuf_take(&b));
	ck_assert_int_eq(dynbuf_addstr(&b, "ok"), 0); /* take reset it */
	dynbuf_reset(&b);
	ck_assert_int_eq(dynbuf_printf(&b, "%070d", 1), -1);
	ck_assert_ptr_null(dynbuf_grow(&b, 1));
	dynbuf_free(&b);
}
END_TEST

/* Growing past many doublings keeps the content; take hands it over. */
START_TEST(test_grow_take)
{
	struct dynbuf b;
	dynbuf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(dynbuf_printf(&b, "%04d", i % 10000), 0);
	ck_assert_uint_eq(dynbuf_len(&b), 40000);
	ck_assert_int_eq(memcmp(dynbuf_ptr(&b) + 39996, "9999", 4), 0);
	char *s = dynbuf_take(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), 40000);
	free(s);
	ck_assert_uint_eq(dynbuf_len(&b), 0);
	ck_assert_ptr_null(dynbuf_take(&b)); /* empty */
}
END_TEST

/* Run the suite. */
int main(void)
{
	const TTest *tests[] = {test_append, test_max, test_grow_take, NULL};
	return unit_run(unit_suite("dynbuf", NULL, NULL, tests)) ? EXIT_FAILURE : EXIT_SUCCESS;
}
