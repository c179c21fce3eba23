/* test-log.c - log.h: JSON lines with time, level, program, pid, msg, request id, fields. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

#define MAX_LINES 32

static char log_path[512];

/* Name the log file for this run (in the parent, so cleanup survives failed tests). */
static void name_log(void)
{
	const char *dir = getenv("TMPDIR");
	snprintf(log_path, sizeof log_path, "%s/fs-unit-log-%ld.json", dir && *dir ? dir : "/tmp",
		 (long)getpid());
}

/* Remove the log file and its rotated copy (in the parent, after every test). */
static void remove_log(void)
{
	char moved[600];
	snprintf(moved, sizeof moved, "%s.1", log_path);
	unlink(log_path);
	unlink(moved);
}

/* Truncate the log file and open the log on it at level. */
static void open_log(const char *level)
{
	FILE *f = fopen(log_path, "w");
	ck_assert_msg(f != NULL, "cannot create %s", log_path);
	fclose(f);
	ck_assert_int_eq(log_open("unit-prog", log_path, level), 0);
}

/* Parse every line of the log file into lines[]; the number of lines. Each must be an object. */
static size_t read_log(const char *path, json_t *lines[MAX_LINES])
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n = 0;
	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(buf, sizeof buf, f)) {
		size_t len = strlen(buf);
		ck_assert_msg(len > 0 && buf[len - 1] == '\n', "line not newline-terminated: %s",
			      buf);
		json_error_t e;
		json_t *o = json_loads(buf, 0, &e);
		ck_assert_msg(o != NULL, "not JSON (%s): %s", e.text, buf);
		ck_assert_msg(json_is_object(o), "not an object: %s", buf);
		ck_assert_uint_lt(n, MAX_LINES);
		lines[n++] = o;
	}
	fclose(f);
	return n;
}

/* Free what read_log returned. */
static void free_lines(json_t *lines[MAX_LINES], size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(lines[i]);
}

/* The string member key of o, failing the test if absent or not a string. */
static const char *str_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_string(v), "\"%s\" missing or not a string", key);
	return json_string_value(v);
}

/* True if ts looks like 2024-01-31T12:34:56.789Z. */
static int is_timestamp(const char *ts)
{
	const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
	if (strlen(ts) != strlen(shape))
		return 0;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != shape[i])
			return 0;
	return 1;
}

/* One line carries time, level, program, pid and msg, and no request id when none is set. */
START_TEST(test_line_fields)
{
	json_t *lines[MAX_LINES];
	open_log("debug");
	log_set_request(NULL, 0);
	log_info("hello %d \"quoted\"", 42);
	size_t n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 1);
	json_t *o = lines[0];
	ck_assert_msg(is_timestamp(str_field(o, "time")), "time %s", str_field(o, "time"));
	ck_assert_str_eq(str_field(o, "level"), "info");
	ck_assert_str_eq(str_field(o, "program"), "unit-prog");
	ck_assert_str_eq(str_field(o, "msg"), "hello 42 \"quoted\"");
	ck_assert(json_is_integer(json_object_get(o, "pid")));
	ck_assert_int_eq(json_integer_value(json_object_get(o, "pid")), getpid());
	ck_assert_ptr_null(json_object_get(o, "requestId"));
	ck_assert_ptr_null(json_object_get(o, "userId"));
	free_lines(lines, n);
	unlink(log_path);
}
END_TEST

/* Each level is written with its name. */
START_TEST(test_level_names)
{
	json_t *lines[MAX_LINES];
	const char *names[] = {"debug", "info", "warn", "error"};
	open_log("debug");
	log_debug("d");
	log_info("i");
	log_warn("w");
	log_error("e");
	size_t n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(str_field(lines[i], "level"), names[i]);
	free_lines(lines, n);
	unlink(log_path);
}
END_TEST

/* The request id (and user id) appear while set, and disappear once cleared. */
START_TEST(test_request_id)
{
	json_t *lines[MAX_LINES];
	open_log("info");
	log_set_request("req-0123456789abcdef", 77);
	log_info("in request");
	log_set_request(NULL, 0);
	log_info("after request");
	size_t n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(str_field(lines[0], "requestId"), "req-0123456789abcdef");
	ck_assert_int_eq(json_integer_value(json_object_get(lines[0], "userId")), 77);
	ck_assert_ptr_null(json_object_get(lines[1], "requestId"));
	ck_assert_ptr_null(json_object_get(lines[1], "userId"));
	free_lines(lines, n);
	unlink(log_path);
}
END_TEST

/* Extra fields are merged into the line; they cannot overwrite the standard ones. */
START_TEST(test_fields_merged)
{
	json_t *lines[MAX_LINES];
	open_log("info");
	log_json(LOG_WARN, "with fields",
		 json_pack("{s:s, s:i, s:b, s:s, s:s}", "sql", "SELECT 1", "rows", 3, "ok", 1,
			   "level", "forged", "msg", "forged"));
	log_json(LOG_INFO, "no fields", NULL);
	size_t n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(str_field(lines[0], "sql"), "SELECT 1");
	ck_assert_int_eq(json_integer_value(json_object_get(lines[0], "rows")), 3);
	ck_assert(json_is_true(json_object_get(lines[0], "ok")));
	ck_assert_str_eq(str_field(lines[0], "level"), "warn");
	ck_assert_str_eq(str_field(lines[0], "msg"), "with fields");
	ck_assert_str_eq(str_field(lines[1], "msg"), "no fields");
	free_lines(lines, n);
	unlink(log_path);
}
END_TEST

/* Lines below the configured level are dropped, at and above it kept. */
START_TEST(test_level_filter)
{
	json_t *lines[MAX_LINES];
	open_log("warn");
	log_debug("dropped debug");
	log_info("dropped info");
	log_json(LOG_INFO, "dropped json", json_pack("{s:i}", "x", 1));
	log_warn("kept warn");
	log_json(LOG_ERROR, "kept json", NULL);
	log_error("kept error");
	size_t n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(str_field(lines[0], "msg"), "kept warn");
	ck_assert_str_eq(str_field(lines[1], "msg"), "kept json");
	ck_assert_str_eq(str_field(lines[2], "msg"), "kept error");
	free_lines(lines, n);
	unlink(log_path);
}
END_TEST

/* Level "error" keeps only errors; an unknown level name means info. */
START_TEST(test_level_error_and_unknown)
{
	json_t *lines[MAX_LINES];
	open_log("error");
	log_warn("dropped");
	log_error("kept");
	size_t n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(str_field(lines[0], "msg"), "kept");
	free_lines(lines, n);
	unlink(log_path);

	open_log("no-such-level");
	log_debug("dropped");
	log_info("kept");
	n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(str_field(lines[0], "msg"), "kept");
	free_lines(lines, n);
	unlink(log_path);
}
END_TEST

/* Newlines and control characters in a message stay inside one JSON line. */
START_TEST(test_escaping)
{
	json_t *lines[MAX_LINES];
	open_log("info");
	log_info("two\nlines\tand \"quotes\" \\ done");
	size_t n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(str_field(lines[0], "msg"), "two\nlines\tand \"quotes\" \\ done");
	free_lines(lines, n);
	unlink(log_path);
}
END_TEST

/* A message with bytes that are not UTF-8 (e.g. from a server error) still makes a line with msg.
 */
START_TEST(test_invalid_utf8)
{
	json_t *lines[MAX_LINES];
	open_log("info");
	log_error("bad byte \xff here");
	size_t n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 1);
	const char *msg = str_field(lines[0], "msg");
	ck_assert_msg(strstr(msg, "bad byte") != NULL, "msg %s", msg);
	free_lines(lines, n);
	unlink(log_path);
}
END_TEST

/* log_reopen writes to a new file at the same path after the old one was moved away. */
START_TEST(test_reopen)
{
	json_t *lines[MAX_LINES];
	char moved[600];
	open_log("info");
	log_info("before");
	snprintf(moved, sizeof moved, "%s.1", log_path);
	ck_assert_int_eq(rename(log_path, moved), 0);
	log_reopen();
	log_info("after");
	size_t n = read_log(log_path, lines);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(str_field(lines[0], "msg"), "after");
	free_lines(lines, n);
	n = read_log(moved, lines);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(str_field(lines[0], "msg"), "before");
	free_lines(lines, n);
	unlink(log_path);
	unlink(moved);
}
END_TEST

/* A log file that cannot be opened is an error. */
START_TEST(test_open_fails)
{
	ck_assert_int_eq(log_open("unit-prog", "/nonexistent/fs-unit/dir/log.json", "info"), -1);
}
END_TEST

/* The suite of this file. */
static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	name_log();
	tcase_add_unchecked_fixture(tc, NULL, remove_log);
	tcase_add_test(tc, test_line_fields);
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_request_id);
	tcase_add_test(tc, test_fields_merged);
	tcase_add_test(tc, test_level_filter);
	tcase_add_test(tc, test_level_error_and_unknown);
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_open_fails);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int main(void)
{
	return unit_status("test-log", unit_run(log_suite()), NULL);
}
