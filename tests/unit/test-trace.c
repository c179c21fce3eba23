/* test-trace.c - trace.h: sampling, traceparent, root and child spans as datagrams. */
#include <check.h>
#include <jansson.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "trace.h"
#include "unit.h"

static char path[108];
static int sink = -1;

#define PARENT "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/* A datagram socket standing in for the exporter. */
static void setup(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ck_assert_int_ge(sodium_init(), 0);
	snprintf(path, sizeof path, "/tmp/fs-trace-%ld.sock", (long)getpid());
	unlink(path);
	sink = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(sink, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(sink, (struct sockaddr *)&sa, sizeof sa), 0);
}

/* Close both ends. */
static void teardown(void)
{
	trace_close();
	close(sink);
	unlink(path);
}

/* The next span sent, parsed; NULL if none arrives within 1 s. */
static json_t *next_span(void)
{
	char buf[4096];
	struct pollfd p = {.fd = sink, .events = POLLIN};
	if (poll(&p, 1, 1000) != 1)
		return NULL;
	ssize_t n = recv(sink, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return json_loads(buf, 0, NULL);
}

/* Is a span waiting right now? */
static int span_waiting(void)
{
	struct pollfd p = {.fd = sink, .events = POLLIN};
	return poll(&p, 1, 50) == 1;
}

/* Off without a socket; a bad path refuses. */
START_TEST(test_off)
{
	ck_assert_int_eq(trace_open("", "unit", 100), -1);
	trace_request_begin(PARENT);
	ck_assert_int_eq(trace_enabled(), 0);
	ck_assert_str_eq(trace_id(), "");
	trace_request_end("x", 200); /* harmless */
}
END_TEST

/* A sampled traceparent is followed: same trace, its span as parent; child spans nest. */
START_TEST(test_follow_parent)
{
	ck_assert_int_eq(trace_open(path, "unit", 0), 0);
	trace_request_begin(PARENT);
	ck_assert_int_eq(trace_enabled(), 1);
	ck_assert_str_eq(trace_id(), "0af7651916cd43dd8448eb211c80319c");
	trace_child("SELECT 1", "mysql", trace_now_ns(), 0);
	trace_request_end("/unit/v1/x", 503);
	ck_assert_int_eq(trace_enabled(), 0);
	json_t *child = next_span(), *root = next_span();
	ck_assert_ptr_nonnull(child);
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq(json_string_value(json_object_get(root, "traceId")),
			 "0af7651916cd43dd8448eb211c80319c");
	ck_assert_str_eq(json_string_value(json_object_get(root, "parentSpanId")),
			 "b7ad6b7169203331");
	ck_assert_str_eq(json_string_value(json_object_get(root, "kind")), "server");
	ck_assert_int_eq(json_integer_value(json_object_get(root, "status")), 503);
	ck_assert(json_is_true(json_object_get(root, "error")));
	ck_assert_str_eq(json_string_value(json_object_get(child, "parentSpanId")),
			 json_string_value(json_object_get(root, "spanId")));
	ck_assert_str_eq(json_string_value(json_object_get(child, "kind")), "mysql");
	ck_assert_str_eq(json_string_value(json_object_get(child, "service")), "unit");
	ck_assert(json_integer_value(json_object_get(root, "end")) >=
		  json_integer_value(json_object_get(root, "start")));
	json_decref(child);
	json_decref(root);
}
END_TEST

/* Sampling: 0 % with no (or an unsampled, or a malformed) traceparent sends nothing. */
START_TEST(test_sampling)
{
	ck_assert_int_eq(trace_open(path, "unit", 0), 0);
	const char *none[] = {NULL, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
			      "garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01"};
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		trace_request_begin(none[i]);
		ck_assert_int_eq(trace_enabled(), 0);
		trace_request_end("x", 200);
	}
	ck_assert_int_eq(span_waiting(), 0);
	trace_close();
	/* 100 %: every request gets a fresh 32-hex trace id. */
	ck_assert_int_eq(trace_open(path, "unit", 100), 0);
	trace_request_begin(NULL);
	ck_assert_int_eq(trace_enabled(), 1);
	ck_assert_uint_eq(strlen(trace_id()), 32);
	ck_assert_uint_eq(strspn(trace_id(), "0123456789abcdef"), 32);
	trace_request_end("x", 200);
	json_t *root = next_span();
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq(json_string_value(json_object_get(root, "parentSpanId")), "");
	ck_assert(json_is_false(json_object_get(root, "error")));
	json_decref(root);
}
END_TEST

/* No exporter listening: spans are dropped, the caller never blocks or fails. */
START_TEST(test_no_exporter)
{
	ck_assert_int_eq(trace_open("/tmp/fs-trace-nobody-listens.sock", "unit", 100), 0);
	for (int i = 0; i < 100; i++) {
		trace_request_begin(NULL);
		trace_child("c", "redis", trace_now_ns(), 1);
		trace_request_end("x", 200);
	}
	ck_assert_int_eq(span_waiting(), 0);
}
END_TEST

/* Run the suite. */
int main(void)
{
	const TTest *tests[] = {test_off, test_follow_parent, test_sampling, test_no_exporter,
				NULL};
	return unit_run(unit_suite("trace", setup, teardown, tests)) ? EXIT_FAILURE : EXIT_SUCCESS;
}
