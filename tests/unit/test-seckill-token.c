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

/* Known answers (Python's hmac): HMAC-SHA256 of "v1|uid|aid|jti|exp", a key longer than a block
 * too, so tokens issued by any earlier build verify with this one. */
START_TEST(test_known_answer)
{
	char tok[SECKILL_TOKEN_MAX], key[101];
	ck_assert_int_eq(seckill_token_new(SECRET, 42, 7, JTI, 1000, tok, sizeof tok), 0);
	ck_assert_str_eq(tok,
			 "1000.03e1de2e42ebd333f2e492007fda09264d5fcdb4aa92faf220a0fc15135f6159");
	memset(key, 'k', 100);
	key[100] = 0;
	ck_assert_int_eq(seckill_token_new(key, 1, 2, JTI, 4102444800LL, tok, sizeof tok), 0);
	ck_assert_str_eq(
	    tok, "4102444800.9ac3dd21f6139e809d93d6b5e7ad02733386bc3642c70ba3cd0523d75c7ccf61");
	ck_assert_int_eq(seckill_token_verify(key, tok, 1, 2, JTI, 4102444799LL), 0);
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
	tcase_add_test(tc, test_known_answer);
	tcase_add_test(tc, test_tampered);
	tcase_add_test(tc, test_small_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_status("test-seckill-token", unit_run(token_suite()), NULL);
}
