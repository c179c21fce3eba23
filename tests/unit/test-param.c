/* test-param.c - param.c: typed request fields, lengths in characters, query-string integers. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static struct http_req req;

/* A fresh request whose params are a new empty object (body mode). */
static void setup(void)
{
	memset(&req, 0, sizeof req);
	req.params = json_object();
}

/* Free the request's params. */
static void teardown(void)
{
	json_decref(req.params);
	req.params = NULL;
}

/* Set a field of the request. */
static void set(const char *name, json_t *v)
{
	ck_assert_int_eq(json_object_set_new(req.params, name, v), 0);
}

/* Expect rc to be E_PARAM with msg naming the field; then clear msg. */
static void expect_param_error(int rc, const char *field)
{
	ck_assert_int_eq(rc, E_PARAM);
	ck_assert_msg(strstr(req.msg, field) != NULL, "msg \"%s\" does not name %s", req.msg,
		      field);
	req.msg[0] = '\0';
}

/* param_has: present is 1; absent, null or no params at all are 0. */
START_TEST(test_has)
{
	set("a", json_integer(0));
	set("b", json_null());
	set("c", json_string(""));
	ck_assert_int_eq(param_has(&req, "a"), 1);
	ck_assert_int_eq(param_has(&req, "c"), 1);
	ck_assert_int_eq(param_has(&req, "b"), 0);
	ck_assert_int_eq(param_has(&req, "zzz"), 0);
	json_t *saved = req.params;
	req.params = NULL;
	ck_assert_int_eq(param_has(&req, "a"), 0);
	req.params = saved;
}
END_TEST

/* A required string that is absent or null is E_PARAM naming it; optional gives NULL and 0. */
START_TEST(test_str_required_optional)
{
	const char *out = "sentinel";
	expect_param_error(param_str(&req, "nickname", 1, 0, 10, &out), "nickname");
	set("nickname", json_null());
	expect_param_error(param_str(&req, "nickname", 1, 0, 10, &out), "nickname");
	out = "sentinel";
	ck_assert_int_eq(param_str(&req, "nickname", 0, 0, 10, &out), 0);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(param_str(&req, "other", 0, 1, 10, &out), 0);
	ck_assert_ptr_null(out);
	set("nickname", json_string("bob"));
	ck_assert_int_eq(param_str(&req, "nickname", 1, 1, 10, &out), 0);
	ck_assert_str_eq(out, "bob");
}
END_TEST

/* A string field of another JSON type is E_PARAM naming it. */
START_TEST(test_str_wrong_type)
{
	const char *out;
	set("mobile", json_integer(13800000000LL));
	expect_param_error(param_str(&req, "mobile", 1, 0, 20, &out), "mobile");
	ck_assert_ptr_null(out);
	set("mobile", json_true());
	expect_param_error(param_str(&req, "mobile", 0, 0, 20, &out), "mobile");
	set("mobile", json_array());
	expect_param_error(param_str(&req, "mobile", 0, 0, 20, &out), "mobile");
	set("mobile", json_object());
	expect_param_error(param_str(&req, "mobile", 0, 0, 20, &out), "mobile");
	set("mobile", json_real(1.5));
	expect_param_error(param_str(&req, "mobile", 0, 0, 20, &out), "mobile");
}
END_TEST

/* ASCII lengths: the bounds are inclusive. */
START_TEST(test_str_ascii_length)
{
	const char *out;
	set("password", json_string("123456"));
	ck_assert_int_eq(param_str(&req, "password", 1, 6, 64, &out), 0);
	ck_assert_int_eq(param_str(&req, "password", 1, 1, 6, &out), 0);
	expect_param_error(param_str(&req, "password", 1, 7, 64, &out), "password");
	expect_param_error(param_str(&req, "password", 1, 1, 5, &out), "password");
	set("password", json_string(""));
	expect_param_error(param_str(&req, "password", 1, 1, 64, &out), "password");
	ck_assert_int_eq(param_str(&req, "password", 1, 0, 64, &out), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Lengths count UTF-8 characters, not bytes: Chinese text counts one per character. */
START_TEST(test_str_utf8_length)
{
	const char *out;
	set("nickname", json_string("你好世界")); /* 4 characters, 12 bytes */
	ck_assert_int_eq(param_str(&req, "nickname", 1, 4, 4, &out), 0);
	ck_assert_str_eq(out, "你好世界");
	expect_param_error(param_str(&req, "nickname", 1, 1, 3, &out), "nickname");
	expect_param_error(param_str(&req, "nickname", 1, 5, 12, &out), "nickname");
	set("nickname", json_string("a😀b")); /* 3 characters, 6 bytes */
	ck_assert_int_eq(param_str(&req, "nickname", 1, 3, 3, &out), 0);
	set("nickname", json_string("é")); /* 1 character, 2 bytes */
	ck_assert_int_eq(param_str(&req, "nickname", 1, 1, 1, &out), 0);
}
END_TEST

/* A string with an embedded NUL is rejected. */
START_TEST(test_str_nul)
{
	const char *out = "sentinel";
	set("info", json_stringn("ab\0cd", 5));
	expect_param_error(param_str(&req, "info", 1, 0, 100, &out), "info");
	ck_assert_ptr_null(out);
	set("info", json_stringn("\0", 1));
	expect_param_error(param_str(&req, "info", 0, 0, 100, &out), "info");
}
END_TEST

/* Integers: required/optional, inclusive ranges, values kept untouched when absent. */
START_TEST(test_int_ranges)
{
	long long out = -777;
	expect_param_error(param_int(&req, "quantity", 1, 1, 99, &out), "quantity");
	ck_assert_int_eq(out, -777);
	ck_assert_int_eq(param_int(&req, "quantity", 0, 1, 99, &out), 0);
	ck_assert_int_eq(out, -777);
	set("quantity", json_null());
	ck_assert_int_eq(param_int(&req, "quantity", 0, 1, 99, &out), 0);
	ck_assert_int_eq(out, -777);
	set("quantity", json_integer(1));
	ck_assert_int_eq(param_int(&req, "quantity", 1, 1, 99, &out), 0);
	ck_assert_int_eq(out, 1);
	set("quantity", json_integer(99));
	ck_assert_int_eq(param_int(&req, "quantity", 1, 1, 99, &out), 0);
	ck_assert_int_eq(out, 99);
	out = -777;
	set("quantity", json_integer(0));
	expect_param_error(param_int(&req, "quantity", 1, 1, 99, &out), "quantity");
	set("quantity", json_integer(100));
	expect_param_error(param_int(&req, "quantity", 1, 1, 99, &out), "quantity");
	set("quantity", json_integer(-5));
	expect_param_error(param_int(&req, "quantity", 0, 1, 99, &out), "quantity");
	ck_assert_int_eq(out, -777);
	set("big", json_integer(9223372036854775807LL));
	ck_assert_int_eq(param_int(&req, "big", 1, 0, 9223372036854775807LL, &out), 0);
	ck_assert_int_eq(out, 9223372036854775807LL);
}
END_TEST

/* In a JSON body an integer field of another type, strings included, is E_PARAM. */
START_TEST(test_int_wrong_type)
{
	long long out = -777;
	set("price", json_string("12"));
	expect_param_error(param_int(&req, "price", 1, 0, 1000, &out), "price");
	set("price", json_real(12.0));
	expect_param_error(param_int(&req, "price", 1, 0, 1000, &out), "price");
	set("price", json_true());
	expect_param_error(param_int(&req, "price", 1, 0, 1000, &out), "price");
	set("price", json_array());
	expect_param_error(param_int(&req, "price", 1, 0, 1000, &out), "price");
	ck_assert_int_eq(out, -777);
}
END_TEST

/* Query-string mode parses decimal strings and rejects anything else. */
START_TEST(test_query_ints)
{
	long long out = -777;
	req.params_are_query = 1;
	set("page", json_string("12"));
	ck_assert_int_eq(param_int(&req, "page", 1, 1, 100, &out), 0);
	ck_assert_int_eq(out, 12);
	set("page", json_string("-3"));
	ck_assert_int_eq(param_int(&req, "page", 1, -10, 100, &out), 0);
	ck_assert_int_eq(out, -3);
	out = -777;
	const char *bad[] = {"12a",
			     "",
			     "1e3",
			     "a12",
			     "1.0",
			     "0x10",
			     "12 3",
			     "99999999999999999999",
			     "-99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		set("page", json_string(bad[i]));
		int rc = param_int(&req, "page", 1, -1000000, 1000000, &out);
		ck_assert_msg(rc == E_PARAM, "\"%s\" accepted", bad[i]);
		expect_param_error(rc, "page");
	}
	ck_assert_int_eq(out, -777);
	set("page", json_string("101"));
	expect_param_error(param_int(&req, "page", 1, 1, 100, &out), "page");
	set("page", json_string("9223372036854775807"));
	ck_assert_int_eq(param_int(&req, "page", 1, 0, 9223372036854775807LL, &out), 0);
	ck_assert_int_eq(out, 9223372036854775807LL);
}
END_TEST

/* Query-string mode still reads strings with param_str. */
START_TEST(test_query_str)
{
	const char *out;
	req.params_are_query = 1;
	set("keyword", json_string("手机"));
	ck_assert_int_eq(param_str(&req, "keyword", 0, 0, 2, &out), 0);
	ck_assert_str_eq(out, "手机");
	expect_param_error(param_str(&req, "keyword", 0, 0, 1, &out), "keyword");
}
END_TEST

/* The suite of this file. */
static Suite *param_suite(void)
{
	Suite *s = suite_create("param");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_has);
	tcase_add_test(tc, test_str_required_optional);
	tcase_add_test(tc, test_str_wrong_type);
	tcase_add_test(tc, test_str_ascii_length);
	tcase_add_test(tc, test_str_utf8_length);
	tcase_add_test(tc, test_str_nul);
	tcase_add_test(tc, test_int_ranges);
	tcase_add_test(tc, test_int_wrong_type);
	tcase_add_test(tc, test_query_ints);
	tcase_add_test(tc, test_query_str);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int main(void)
{
	SRunner *sr = srunner_create(param_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
