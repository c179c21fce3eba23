/* test-passwd.c - passwd.h: Argon2id hashes, verification, salting. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"

#define OPS 1
#define MEM 8192

/* A hash is an $argon2id$ string carrying the requested cost. */
START_TEST(test_hash_format)
{
	char h[PASSWD_HASH_MAX];
	ck_assert_int_eq(passwd_hash("secret123", OPS, MEM, h), 0);
	ck_assert_msg(!strncmp(h, "$argon2id$", 10), "hash %s", h);
	ck_assert_msg(strstr(h, "m=8192") != NULL, "hash %s", h);
	ck_assert_msg(strstr(h, "t=1") != NULL, "hash %s", h);
	ck_assert_uint_lt(strlen(h), PASSWD_HASH_MAX);
	ck_assert(strstr(h, "secret123") == NULL);
}
END_TEST

/* The right password verifies; wrong, empty, prefix or longer ones do not. */
START_TEST(test_verify)
{
	char h[PASSWD_HASH_MAX];
	ck_assert_int_eq(passwd_hash("correct horse", OPS, MEM, h), 0);
	ck_assert_int_eq(passwd_verify(h, "correct horse"), 1);
	ck_assert_int_eq(passwd_verify(h, "correct horsE"), 0);
	ck_assert_int_eq(passwd_verify(h, "correct hors"), 0);
	ck_assert_int_eq(passwd_verify(h, "correct horse "), 0);
	ck_assert_int_eq(passwd_verify(h, ""), 0);
}
END_TEST

/* Non-ASCII passwords round-trip. */
START_TEST(test_utf8_password)
{
	char h[PASSWD_HASH_MAX];
	ck_assert_int_eq(passwd_hash("密码口令123", OPS, MEM, h), 0);
	ck_assert_int_eq(passwd_verify(h, "密码口令123"), 1);
	ck_assert_int_eq(passwd_verify(h, "密码口令124"), 0);
}
END_TEST

/* Two hashes of the same password differ (random salt) and both verify. */
START_TEST(test_salted)
{
	char a[PASSWD_HASH_MAX], b[PASSWD_HASH_MAX];
	ck_assert_int_eq(passwd_hash("same-password", OPS, MEM, a), 0);
	ck_assert_int_eq(passwd_hash("same-password", OPS, MEM, b), 0);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(passwd_verify(a, "same-password"), 1);
	ck_assert_int_eq(passwd_verify(b, "same-password"), 1);
}
END_TEST

/* Garbage or missing hashes and passwords never verify. */
START_TEST(test_bad_input)
{
	char h[PASSWD_HASH_MAX];
	ck_assert_int_eq(passwd_verify("", "x"), 0);
	ck_assert_int_eq(passwd_verify("$argon2id$garbage", "x"), 0);
	ck_assert_int_eq(passwd_verify("plaintext", "plaintext"), 0);
	ck_assert_int_eq(passwd_verify(NULL, "x"), 0);
	ck_assert_int_eq(passwd_hash("pw", OPS, MEM, h), 0);
	ck_assert_int_eq(passwd_verify(h, NULL), 0);
}
END_TEST

/* A cost below libsodium's minimum is refused rather than silently weakened. */
START_TEST(test_bad_cost)
{
	char h[PASSWD_HASH_MAX];
	ck_assert_int_eq(passwd_hash("pw", 0, MEM, h), -1);
}
END_TEST

/* The suite of this file. */
static Suite *passwd_suite(void)
{
	Suite *s = suite_create("passwd");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hash_format);
	tcase_add_test(tc, test_verify);
	tcase_add_test(tc, test_utf8_password);
	tcase_add_test(tc, test_salted);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_bad_cost);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int main(void)
{
	SRunner *sr = srunner_create(passwd_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
