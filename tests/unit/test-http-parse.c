/* test-http-parse.c - http-parse.h: request ids, unescaping and the query string parser. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "http-parse.h"
#include "unit.h"

/* Request ids: 8-64 of [A-Za-z0-9._-], anything else refused. */
START_TEST(test_request_id)
{
	char long_id[80];
	ck_assert_int_eq(http_request_id_valid("abcdEFGH"), 1);
	ck_assert_int_eq(http_request_id_valid("a.b-c_d0123"), 1);
	ck_assert_int_eq(http_request_id_valid("short"), 0);
	ck_assert_int_eq(http_request_id_valid(NULL), 0);
	ck_assert_int_eq(http_request_id_valid(""), 0);
	ck_assert_int_eq(http_request_id_valid("abcdefgh\r\nX-Evil: 1"), 0);
	ck_assert_int_eq(http_request_id_valid("abcd efgh"), 0);
	memset(long_id, 'a', 64);
	long_id[64] = 0;
	ck_assert_int_eq(http_request_id_valid(long_id), 1);
	long_id[64] = 'a';
	long_id[65] = 0;
	ck_assert_int_eq(http_request_id_valid(long_id), 0);
}
END_TEST

/* %XX and '+' decode in place; bad escapes stay as they are. */
START_TEST(test_unescape)
{
	char a[] = "a+b%20c%2Bd", b[] = "%zz%4", c[] = "%e4%b8%ad", d[] = "";
	ck_assert_uint_eq(http_unescape(a), 7);
	ck_assert_str_eq(a, "a b c+d");
	ck_assert_uint_eq(http_unescape(b), 5);
	ck_assert_str_eq(b, "%zz%4");
	ck_assert_uint_eq(http_unescape(c), 3);
	ck_assert_str_eq(c, "\xe4\xb8\xad");
	ck_assert_uint_eq(http_unescape(d), 0);
}
END_TEST

/* Names and values decoded, a value-less name is "", a repeat wins, empty is {}. */
START_TEST(test_parse)
{
	json_t *o;
	char why[128];
	ck_assert_int_eq(http_query_parse("id=7&kw=%E4%B8%AD+x&flag&id=8", &o, why, sizeof why), 0);
	ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "8");
	ck_assert_str_eq(json_string_value(json_object_get(o, "kw")), "\xe4\xb8\xad x");
	ck_assert_str_eq(json_string_value(json_object_get(o, "flag")), "");
	ck_assert_uint_eq(json_object_size(o), 3);
	json_decref(o);
	ck_assert_int_eq(http_query_parse(NULL, &o, why, sizeof why), 0);
	ck_assert_uint_eq(json_object_size(o), 0);
	json_decref(o);
	ck_assert_int_eq(http_query_parse("&&", &o, why, sizeof why), 0);
	ck_assert_uint_eq(json_object_size(o), 0);
	json_decref(o);
}
END_TEST

/* Limits: length, count, UTF-8; a refusal says why and leaves no object. */
START_TEST(test_parse_limits)
{
	json_t *o = (json_t *)1;
	char why[128];
	char *big = malloc(HTTP_MAX_QUERY + 2);
	memset(big, 'a', HTTP_MAX_QUERY + 1);
	big[HTTP_MAX_QUERY + 1] = 0;
	ck_assert_int_eq(http_query_parse(big, &o, why, sizeof why), -1);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(why, "query string too long");
	free(big);

	char many[HTTP_MAX_QUERY_PARAMS * 8 + 16] = "";
	for (int i = 0; i <= HTTP_MAX_QUERY_PARAMS; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "k%d=1&", i);
	ck_assert_int_eq(http_query_parse(many, &o, why, sizeof why), -1);
	ck_assert_str_eq(why, "too many query parameters");
	many[strlen("k0=1&") * 10] = 0; /* ten are fine */
	ck_assert_int_eq(http_query_parse(many, &o, why, sizeof why), 0);
	ck_assert_uint_eq(json_object_size(o), 10);
	json_decref(o);

	ck_assert_int_eq(http_query_parse("name=%ff%fe", &o, why, sizeof why), -1);
	ck_assert_str_eq(why, "name: not valid UTF-8");
}
END_TEST

/* Run the suite. */
int main(void)
{
	const TTest *tests[] = {test_request_id, test_unescape, test_parse, test_parse_limits,
				NULL};
	return unit_run(unit_suite("http-parse", NULL, NULL, tests)) ? EXIT_FAILURE : EXIT_SUCCESS;
}
