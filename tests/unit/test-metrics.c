/* test-metrics.c - metrics.h: the shared mapping, named slots, requests and the rendering. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "unit.h"

static char dir[256];

/* A fresh directory and mapping per test. */
static void setup(void)
{
	snprintf(dir, sizeof dir, "%s/fs-metrics-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(metrics_open(dir, "unit", 2), 0);
}

/* Unmap and remove the directory. */
static void teardown(void)
{
	char path[300];
	metrics_close();
	snprintf(path, sizeof path, "%s/unit.metrics", dir);
	unlink(path);
	rmdir(dir);
}

/* Off until opened: slots are -1 and every call is harmless. */
START_TEST(test_off)
{
	metrics_close();
	ck_assert_int_eq(metrics_define("x_total", NULL, "x", 0), -1);
	metrics_add(-1, 5);
	ck_assert_int_eq(metrics_get(-1), 0);
	ck_assert_ptr_null(metrics_render(NULL, 0));
	ck_assert_int_eq(metrics_open("", "unit", 1), -1);
	ck_assert_int_eq(metrics_open(dir, "unit", METRICS_MAX_ROUTES + 1), -1);
	ck_assert_int_eq(metrics_open(dir, "unit", 2), 0); /* for teardown */
}
END_TEST

/* The same name and labels give the same slot; counters add, gauges set; find never claims. */
START_TEST(test_named)
{
	int free0 = metrics_free_slots();
	int a = metrics_define("unit_things_total", "kind=\"a\"", "Things.", 0);
	int b = metrics_define("unit_things_total", "kind=\"b\"", "Things.", 0);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ne(a, b);
	ck_assert_int_eq(metrics_define("unit_things_total", "kind=\"a\"", "Things.", 0), a);
	ck_assert_int_eq(metrics_free_slots(), free0 - 2);
	metrics_add(a, 2);
	metrics_add(a, 3);
	ck_assert_int_eq(metrics_get(a), 5);
	int g = metrics_define("unit_level", NULL, "A level.", 1);
	metrics_set(g, 7);
	metrics_set(g, 4);
	ck_assert_int_eq(metrics_get(g), 4);
	ck_assert_int_eq(metrics_find("unit_things_total", "kind=\"b\""), b);
	ck_assert_int_eq(metrics_find("unit_absent_total", NULL), -1);
	ck_assert_int_eq(metrics_free_slots(), free0 - 3);
}
END_TEST

/* A second mapping of the same file (another worker) sees the same values. */
START_TEST(test_shared)
{
	int a = metrics_define("unit_shared_total", NULL, "Shared.", 0);
	metrics_add(a, 11);
	metrics_close();
	ck_assert_int_eq(metrics_open(dir, "unit", 2), 0);
	int again = metrics_find("unit_shared_total", NULL);
	ck_assert_int_eq(again, a);
	ck_assert_int_eq(metrics_get(again), 11);
}
END_TEST

/* Requests and named slots render as Prometheus text, samples of one name together. */
START_TEST(test_render)
{
	const char *paths[] = {"/unit/v1/a", "/unit/v1/b"};
	metrics_request(0, 200, 200, 0.003);
	metrics_request(0, 503, 100005, 0.2);
	metrics_request(1, 200, 200, 0.0001);
	metrics_request(5, 200, 200, 0.1); /* no such route: ignored */
	metrics_add(metrics_define("unit_z_total", "k=\"1\"", "Z.", 0), 1);
	metrics_add(metrics_define("unit_a_total", NULL, "A.", 0), 2);
	metrics_add(metrics_define("unit_z_total", "k=\"2\"", "Z.", 0), 3);
	char *t = metrics_render(paths, 2);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(strstr(t,
				     "flashsale_http_requests_total{program=\"unit\",route=\"/unit/"
				     "v1/a\",status=\"503\",code=\"100005\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "flashsale_http_request_duration_seconds_count{program="
					"\"unit\",route=\"/unit/v1/a\"} 2\n"));
	ck_assert_ptr_nonnull(
	    strstr(t, "flashsale_http_request_duration_seconds_bucket{program=\"unit\",route=\"/"
		      "unit/v1/b\",le=\"0.001\"} 1\n"));
	char *z1 = strstr(t, "unit_z_total{program=\"unit\",k=\"1\"} 1\n");
	char *z2 = strstr(t, "unit_z_total{program=\"unit\",k=\"2\"} 3\n");
	char *a = strstr(t, "unit_a_total{program=\"unit\"} 2\n");
	ck_assert_ptr_nonnull(z1);
	ck_assert_ptr_nonnull(z2);
	ck_assert_ptr_nonnull(a);
	ck_assert(a < z1 && z1 < z2); /* sorted by name, one HELP per name */
	ck_assert_ptr_eq(strstr(t, "# HELP unit_z_total"), strstr(t, "# HELP unit_z_total Z."));
	ck_assert_ptr_null(strstr(strstr(t, "# HELP unit_z_total") + 1, "# HELP unit_z_total"));
	free(t);
}
END_TEST

/* The table is bounded: defining past it answers -1, never corrupts. */
START_TEST(test_full)
{
	char labels[32];
	int last = 0;
	for (int i = 0; i < METRICS_MAX_NAMED + 5; i++) {
		snprintf(labels, sizeof labels, "i=\"%d\"", i);
		last = metrics_define("unit_many_total", labels, "Many.", 0);
	}
	ck_assert_int_eq(last, -1);
	ck_assert_int_eq(metrics_free_slots(), 0);
	char *t = metrics_render(NULL, 0);
	ck_assert_ptr_nonnull(t);
	free(t);
}
END_TEST

/* Run the suite. */
int main(void)
{
	const TTest *tests[] = {test_off, test_named, test_shared, test_render, test_full, NULL};
	return unit_run(unit_suite("metrics", setup, teardown, tests)) ? EXIT_FAILURE
								       : EXIT_SUCCESS;
}
