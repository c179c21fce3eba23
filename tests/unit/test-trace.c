/* test-trace.c - sampling: a client's sampled traceparent is followed only up to the cap. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "trace.h"
#include "unit.h"

static char sock_path[108];
static int sink = -1;

/* A datagram socket for the spans (never read: the test counts sampling decisions). */
static void sink_setup(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sock_path, sizeof sock_path, "/tmp/fs-trace-test-%ld.sock", (long)getpid());
	unlink(sock_path);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
	sink = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(sink, 0);
	ck_assert_int_eq(bind(sink, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(sodium_init() >= 0, 1);
	ck_assert_int_eq(trace_open(sock_path, "unit", 0), 0); /* sample_percent 0 */
}

/* Close both ends. */
static void sink_teardown(void)
{
	trace_close();
	close(sink);
	unlink(sock_path);
}

/* How many of n requests with a sampled traceparent were traced. */
static int traced_of(int n)
{
	int traced = 0;
	for (int i = 0; i < n; i++) {
		char tp[64];
		snprintf(tp, sizeof tp, "00-%032x-%016x-01", i + 1, i + 7);
		trace_request_begin(tp);
		traced += trace_enabled();
		trace_request_end("/unit", 200);
	}
	return traced;
}

START_TEST(forced_samples_are_capped)
{
	trace_set_forced_rate(5);
	int first = traced_of(200);
	ck_assert_int_ge(first, 5);
	ck_assert_int_le(first, 6); /* the burst, plus what refilled meanwhile */
	usleep(1100000);            /* a second later the bucket is full again */
	int second = traced_of(200);
	ck_assert_int_ge(second, 5);
	ck_assert_int_le(second, 6);
}
END_TEST

START_TEST(zero_follows_none_and_unsampled_is_not_forced)
{
	trace_set_forced_rate(0);
	ck_assert_int_eq(traced_of(50), 0);
	trace_set_forced_rate(1000);
	trace_request_begin("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
	ck_assert_int_eq(trace_enabled(), 0); /* the flag is off and sample_percent is 0 */
	trace_request_end("/unit", 200);
	trace_request_begin("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	ck_assert_int_eq(trace_enabled(), 1);
	ck_assert_str_eq(trace_id(), "0af7651916cd43dd8448eb211c80319c");
	trace_request_end("/unit", 200);
}
END_TEST

int main(void)
{
	unit_clear_config_env();
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("sampling");
	tcase_add_checked_fixture(tc, sink_setup, sink_teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, forced_samples_are_capped);
	tcase_add_test(tc, zero_follows_none_and_unsampled_is_not_forced);
	suite_add_tcase(s, tc);
	return unit_status("test-trace", unit_run(s), NULL);
}
