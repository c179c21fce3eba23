/* test-errors.c - errors.h: every API.md code maps to its HTTP status; unknown codes are 500. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* One row of API.md's "Error codes" table, copied by hand. */
struct api_row {
	int code;
	int status;
};

static const struct api_row api_table[] = {
    {100001, 500}, {100002, 400}, {100003, 401}, {100004, 500}, {100005, 503}, {100006, 409},
    {100007, 429}, {100008, 403}, {100009, 404}, {100010, 413}, {100011, 400}, {100012, 403},
    {200001, 409}, {200002, 401}, {200003, 409}, {200004, 502}, {300001, 404}, {300002, 409},
    {400001, 404}, {400002, 409}, {400003, 409}, {500001, 404}, {500002, 409}, {500003, 502},
    {600001, 404}, {600002, 409}, {600003, 409}, {600004, 409}, {600005, 409}, {600006, 403},
    {600007, 404}, {600008, 403}, {600009, 403}, {700001, 404}, {700002, 409}, {700003, 409},
    {700004, 409}, {700005, 409},
};

#define API_ROWS (sizeof api_table / sizeof api_table[0])

/* Each API.md code has the status of the table (looped test, one code per iteration). */
START_TEST(test_api_status)
{
	const struct api_row *r = &api_table[_i];
	ck_assert_int_eq(err_http_status(r->code), r->status);
}
END_TEST

/* Each API.md code has a non-empty message other than the unknown-code fallback. */
START_TEST(test_api_message)
{
	int code = api_table[_i].code;
	const char *m = err_message(code);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_gt(strlen(m), 0);
	if (code != 100001)
		ck_assert_str_ne(m, err_message(-12345));
}
END_TEST

/* The enum names carry the codes of the table. */
START_TEST(test_enum_values)
{
	const int codes[] = {E_SERVER,
			     E_PARAM,
			     E_TOKEN,
			     E_TOKEN_GEN,
			     E_DB_BUSY,
			     E_CONFLICT,
			     E_RATE_LIMIT,
			     E_FORBIDDEN,
			     E_NOT_FOUND,
			     E_TOO_LARGE,
			     E_VERIFY_CODE,
			     E_CHALLENGE,
			     E_MOBILE_TAKEN,
			     E_LOGIN_FAILED,
			     E_WX_BOUND,
			     E_WX_LOGIN,
			     E_PRODUCT_NOT_FOUND,
			     E_STOCK_SHORT,
			     E_ORDER_NOT_FOUND,
			     E_ORDER_STATE,
			     E_REFUND_NOT_ALLOWED,
			     E_PAYMENT_NOT_FOUND,
			     E_PAYMENT_DONE,
			     E_PAY_GATEWAY,
			     E_ACTIVITY_NOT_FOUND,
			     E_ACTIVITY_NOT_STARTED,
			     E_ACTIVITY_ENDED,
			     E_SOLD_OUT,
			     E_LIMIT_REACHED,
			     E_SECKILL_TOKEN,
			     E_SECKILL_REQUEST_NOT_FOUND,
			     E_NOT_ELIGIBLE,
			     E_RESERVATION,
			     E_COUPON_NOT_FOUND,
			     E_COUPON_ALL_CLAIMED,
			     E_COUPON_LIMIT,
			     E_COUPON_UNUSABLE,
			     E_COUPON_CLOSED};
	ck_assert_uint_eq(sizeof codes / sizeof codes[0], API_ROWS);
	for (size_t i = 0; i < API_ROWS; i++)
		ck_assert_int_eq(codes[i], api_table[i].code);
}
END_TEST

/* Success is 200 "OK". */
START_TEST(test_ok)
{
	ck_assert_int_eq(err_http_status(FS_OK), 200);
	ck_assert_str_eq(err_message(FS_OK), "OK");
}
END_TEST

/* Codes outside the table answer 500 with a generic message. */
START_TEST(test_unknown)
{
	const int unknown[] = {-1, 1, 200, 404, 99999, 100000, 100013, 200005, 600010, 999999};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		ck_assert_int_eq(err_http_status(unknown[i]), 500);
		ck_assert_ptr_nonnull(err_message(unknown[i]));
		ck_assert_uint_gt(strlen(err_message(unknown[i])), 0);
	}
}
END_TEST

/* The suite of this file. */
static Suite *errors_suite(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_api_status, 0, (int)API_ROWS);
	tcase_add_loop_test(tc, test_api_message, 0, (int)API_ROWS);
	tcase_add_test(tc, test_enum_values);
	tcase_add_test(tc, test_ok);
	tcase_add_test(tc, test_unknown);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int main(void)
{
	SRunner *sr = srunner_create(errors_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
