/* test-ids.c - ids.h: serial number format, uniqueness, prefix bounds, hex ids, the generator. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ids.h"

#define N_UNIQUE 10000

/* True if s[0..n) are all decimal digits. */
static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* The UTC time of a YYYYMMDDHHMMSS string as Unix seconds. */
static time_t parse_utc14(const char *s)
{
	struct tm tm = {0};
	char buf[15];
	memcpy(buf, s, 14);
	buf[14] = '\0';
	ck_assert_int_eq(sscanf(buf, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min, &tm.tm_sec),
			 6);
	ck_assert(tm.tm_mon >= 1 && tm.tm_mon <= 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31);
	ck_assert(tm.tm_hour <= 23 && tm.tm_min <= 59 && tm.tm_sec <= 60);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* prefix + 14 digits of the current UTC time + 12 digits. */
START_TEST(test_format)
{
	char sn[ID_SN_MAX];
	time_t before = time(NULL);
	ck_assert_int_eq(id_sn_new(sn, sizeof sn, "ORD"), 0);
	time_t after = time(NULL);
	ck_assert_uint_eq(strlen(sn), 3 + 14 + 12);
	ck_assert(!strncmp(sn, "ORD", 3));
	ck_assert_msg(all_digits(sn + 3, 26), "not digits: %s", sn);
	time_t t = parse_utc14(sn + 3);
	ck_assert_msg(t >= before - 1 && t <= after + 1, "time %s is not now (UTC)", sn);
	ck_assert_msg(all_digits(sn + 17, 6) && strncmp(sn + 17, "999999", 6) <= 0, "usec %s", sn);
}
END_TEST

/* Empty and 8-character prefixes work; the length follows the prefix. */
START_TEST(test_prefix_lengths)
{
	char sn[ID_SN_MAX];
	ck_assert_int_eq(id_sn_new(sn, sizeof sn, ""), 0);
	ck_assert_uint_eq(strlen(sn), 26);
	ck_assert(all_digits(sn, 26));
	ck_assert_int_eq(id_sn_new(sn, sizeof sn, "ABCDEFGH"), 0);
	ck_assert_uint_eq(strlen(sn), 8 + 26);
	ck_assert(!strncmp(sn, "ABCDEFGH", 8));
	ck_assert(all_digits(sn + 8, 26));
}
END_TEST

/* A prefix over 8 characters, or a buffer under ID_SN_MAX, is refused. */
START_TEST(test_prefix_too_long)
{
	char sn[ID_SN_MAX];
	char big[128];
	memset(sn, 'x', sizeof sn);
	ck_assert_int_eq(id_sn_new(sn, sizeof sn, "ABCDEFGHI"), -1);
	memset(big, 'P', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(id_sn_new(sn, sizeof sn, big), -1);
	ck_assert_int_eq(id_sn_new(sn, ID_SN_MAX - 1, "A"), -1);
}
END_TEST

/* qsort comparator for an array of serial numbers. */
static int cmp_sn(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* 10000 serial numbers made in a tight loop are all different and in time order. */
START_TEST(test_unique)
{
	char(*sns)[ID_SN_MAX] = calloc(N_UNIQUE, sizeof *sns);
	ck_assert_ptr_nonnull(sns);
	for (int i = 0; i < N_UNIQUE; i++) {
		ck_assert_int_eq(id_sn_new(sns[i], ID_SN_MAX, "P"), 0);
		if (i > 0)
			ck_assert_msg(strncmp(sns[i - 1], sns[i], 1 + 20) <= 0,
				      "not in time order: %s then %s", sns[i - 1], sns[i]);
	}
	qsort(sns, N_UNIQUE, sizeof *sns, cmp_sn);
	for (int i = 1; i < N_UNIQUE; i++)
		ck_assert_msg(strcmp(sns[i - 1], sns[i]) != 0, "duplicate %s", sns[i]);
	free(sns);
}
END_TEST

/* id_hex32 is 32 lowercase hex characters, NUL-terminated, different each time. */
START_TEST(test_hex32)
{
	char a[33], b[33];
	memset(a, 'x', sizeof a);
	id_hex32(a);
	id_hex32(b);
	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 32);
	ck_assert_uint_eq(strlen(b), 32);
	ck_assert_uint_eq(strspn(b, "0123456789abcdef"), 32);
	ck_assert_str_ne(a, b);
}
END_TEST

/* id_uniform stays below its bound and reaches every value of a small range. */
START_TEST(test_uniform)
{
	int seen[7] = {0};
	for (int i = 0; i < 7000; i++) {
		uint32_t v = id_uniform(7);
		ck_assert_uint_lt(v, 7);
		seen[v]++;
	}
	for (int i = 0; i < 7; i++)
		ck_assert_msg(seen[i] > 700, "value %d drawn %d times of 7000", i, seen[i]);
	ck_assert_uint_eq(id_uniform(1), 0);
	ck_assert_uint_eq(id_uniform(0), 0);
	ck_assert_uint_lt(id_uniform(1000000), 1000000);
}
END_TEST

/* A thread's stream: what it draws differs from the main thread's. */
static void *draw_in_thread(void *out)
{
	id_random(out, 16);
	return NULL;
}

/* After fork the child draws a stream of its own, not a copy of the parent's; so do threads. */
START_TEST(test_streams_apart)
{
	unsigned char mine[16], child[16], other[16];
	int fds[2];
	id_random(mine, sizeof mine); /* the parent's stream is keyed before the fork */
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsigned char c[16];
		id_random(c, sizeof c);
		_exit(write(fds[1], c, sizeof c) == (ssize_t)sizeof c ? 0 : 1);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], child, sizeof child), (ssize_t)sizeof child);
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	ck_assert_int_eq(status, 0);
	id_random(mine, sizeof mine); /* what the parent draws next, where the child drew */
	ck_assert_int_ne(memcmp(mine, child, sizeof mine), 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, draw_in_thread, other), 0);
	pthread_join(t, NULL);
	id_random(mine, sizeof mine);
	ck_assert_int_ne(memcmp(mine, other, sizeof mine), 0);
}
END_TEST

/* The suite of this file. */
static Suite *ids_suite(void)
{
	Suite *s = suite_create("ids");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_prefix_lengths);
	tcase_add_test(tc, test_prefix_too_long);
	tcase_add_test(tc, test_unique);
	tcase_add_test(tc, test_hex32);
	tcase_add_test(tc, test_uniform);
	tcase_add_test(tc, test_streams_apart);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int main(void)
{
	SRunner *sr = srunner_create(ids_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
