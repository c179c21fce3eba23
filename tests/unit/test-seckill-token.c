/* test-seckill-token.c - seckill-lib.h tokens: bound to user, activity, session and expiry. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "seckill-lib.h"
#include "unit.h"

#define SECRET "seckill-unit-secret-0123456789abcdef0123"
#define JTI    "0123456789abcdef0123456789abcdef"

/* A token verifies for exactly what it was signed for, until it expires. */
START_TEST(test_round_trip)
{
	char tok[SECKILL_TOKEN_MAX];
	ck_assert_int_eq(seckill_token_new(SECRET, 42, 7, JTI, 1000, tok, sizeof tok), 0);
	ck_assert_int_eq(seckill_token_verify(SECRET, tok, 42, 7, JTI, 999), 0);
	ck_assert_int_eq(seckill_token_verify(SECRET, tok, 43, 7, JTI, 999), -1);
	ck_assert_int_eq(seckill_token_verify(SECRET, tok, 42, 8, JTI, 999), -1);
	ck_assert_int_eq(
	    seckill_token_verify(SECRET, tok, 42, 7, "f123456789abcdef0123456789abcdef", 999), -1);
	ck_assert_int_eq(seckill_token_verify(SECRET, tok, 42, 7, JTI, 1000), -1); /* expired */
	ck_assert_int_eq(seckill_token_verify(SECRET "x", tok, 42, 7, JTI, 999), -1);
}
END_TEST

/* Changing the expiry or any MAC digit, or a malformed token, fails. */
START_TEST(test_tampered)
{
	char tok[SECKILL_TOKEN_MAX], bad[SECKILL_TOKEN_MAX];
	ck_assert_int_eq(seckill_token_new(SECRET, 1, 2, JTI, 5000, tok, sizeof tok), 0);
	snprintf(bad, sizeof bad, "9%s", tok); /* a later expiry, same MAC */
	ck_assert_int_eq(seckill_token_verify(SECRET, bad, 1, 2, JTI, 10), -1);
	for (size_t i = strlen(tok) - 64; i < strlen(tok); i += 7) {
		snprintf(bad, sizeof bad, "%s", tok);
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		ck_assert_int_eq(seckill_token_verify(SECRET, bad, 1, 2, JTI, 10), -1);
	}
	const char *junk[] = {"", ".", "5000", "5000.", "abc.def", "-1.00", "5000.ZZ"};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		ck_assert_int_eq(seckill_token_verify(SECRET, junk[i], 1, 2, JTI, 10), -1);
}
END_TEST

/* Too small an output buffer is refused, not truncated. */
START_TEST(test_small_buffer)
{
	char tok[20];
	ck_assert_int_eq(seckill_token_new(SECRET, 1, 2, JTI, 5000, tok, sizeof tok), -1);
}
END_TEST

/* The suite. */
static Suite *token_suite(void)
{
	Suite *s = suite_create("seckill-token");
	TCase *tc = tcase_create("token");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_tampered);
	tcase_add_test(tc, test_small_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_status("test-seckill-token", unit_run(token_suite()), NULL);
}
