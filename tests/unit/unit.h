/* unit.h - shared helpers of the unit tests: temp files, test configs, server env, skipping. */
#ifndef FS_UNIT_H
#define FS_UNIT_H

#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

/* Automake's exit status for a skipped test program. */
#define UNIT_SKIP 77

/* A secret long enough for config validation (>= 32 characters). */
#define UNIT_JWT_SECRET "unit-test-secret-0123456789abcdef0123456789"

/* Remove every FLASHSALE_<SECTION>_<KEY> variable so the caller's environment cannot leak in. */
static inline void unit_clear_config_env(void)
{
	for (size_t i = 0; i < config_nkeys; i++) {
		char name[96];
		snprintf(name, sizeof name, "FLASHSALE_%s_%s", config_keys[i].section,
			 config_keys[i].name);
		for (char *p = name; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		unsetenv(name);
	}
	unsetenv("FLASHSALE_CONF");
}

/* Write text to a new temp file; its path goes to path (size len). 0 or -1. */
static inline int unit_write_temp(const char *text, char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, len, "%s/fs-unit-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);
	int ok = write(fd, text, n) == (ssize_t)n;
	close(fd);
	if (!ok) {
		unlink(path);
		return -1;
	}
	return 0;
}

/* config_load from INI text in a temp file; 0 or -1 with the message in err. */
static inline int unit_config_text(struct fs_config *cfg, const char *ini, char *err, size_t errlen)
{
	char path[512];
	if (unit_write_temp(ini, path, sizeof path) < 0) {
		snprintf(err, errlen, "cannot write a temp file");
		memset(cfg, 0, sizeof *cfg);
		return -1;
	}
	int rc = config_load(cfg, path, err, errlen);
	unlink(path);
	return rc;
}

/* A valid test config: the unit JWT secret plus printf-formatted INI text; fails the test. */
static inline void unit_config(struct fs_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* See the declaration above. */
static inline void unit_config(struct fs_config *cfg, const char *fmt, ...)
{
	char ini[4096], err[512];
	va_list ap;
	int n = snprintf(ini, sizeof ini, "[auth]\njwt_secret = %s\n", UNIT_JWT_SECRET);
	va_start(ap, fmt);
	vsnprintf(ini + n, sizeof ini - (size_t)n, fmt, ap);
	va_end(ap);
	if (unit_config_text(cfg, ini, err, sizeof err) < 0)
		ck_abort_msg("test config rejected: %s\n%s", err, ini);
}

/* The value of a server variable, or NULL (the caller then skips). */
static inline const char *unit_env(const char *var)
{
	const char *v = getenv(var);
	return v && *v ? v : NULL;
}

/* Print why the program is skipped and exit with Automake's SKIP status. */
static inline void unit_skip(const char *program, const char *why)
{
	printf("SKIP %s: %s\n", program, why);
	fflush(stdout);
	exit(UNIT_SKIP);
}

/* The named server socket from the environment, or skip the whole program. */
static inline const char *unit_require(const char *program, const char *var)
{
	const char *v = unit_env(var);
	if (!v) {
		char why[256];
		snprintf(why, sizeof why, "%s is not set; this test needs that server", var);
		unit_skip(program, why);
	}
	return v;
}

/*
 * Extra [redis] lines that put a suite's cache on the Redis Cluster named by
 * $FLASHSALE_TEST_REDIS_ON_CLUSTER (host:port,..., set by `./flashsale test cluster`), or "".
 */
static inline const char *unit_redis_cluster_ini(void)
{
	static char ini[1200];
	const char *cluster = unit_env("FLASHSALE_TEST_REDIS_ON_CLUSTER");
	if (!cluster)
		return "";
	snprintf(ini, sizeof ini, "cluster = %s\ncluster_check_slots = 1\n", cluster);
	return ini;
}

/* A config for the Redis test server ($FLASHSALE_TEST_REDIS_SOCKET); cooldown in ms. */
static inline void unit_redis_config(struct fs_config *cfg, long cooldown_ms)
{
	const char *sock = unit_env("FLASHSALE_TEST_REDIS_SOCKET");
	ck_assert_msg(sock != NULL, "FLASHSALE_TEST_REDIS_SOCKET unset");
	unit_config(cfg,
		    "[redis]\nsocket = %s\n%stimeout_ms = 1000\n[breaker]\ncooldown_ms = %ld\n",
		    sock, unit_redis_cluster_ini(), cooldown_ms);
}

/* A config for the MariaDB test server ($FLASHSALE_TEST_MYSQL_SOCKET, root, no password). */
static inline void unit_mysql_config(struct fs_config *cfg, long cooldown_ms)
{
	const char *sock = unit_env("FLASHSALE_TEST_MYSQL_SOCKET");
	ck_assert_msg(sock != NULL, "FLASHSALE_TEST_MYSQL_SOCKET unset");
	unit_config(cfg,
		    "[mysql]\nsocket = %s\nuser = root\npassword =\nconnect_timeout = 2\n"
		    "rw_timeout = 5\n[breaker]\ncooldown_ms = %ld\n",
		    sock, cooldown_ms);
}

/* Skip the program without both test servers; else a clean environment, SIGPIPE ignored. */
static inline void unit_require_servers(const char *program)
{
	unit_require(program, "FLASHSALE_TEST_MYSQL_SOCKET");
	unit_require(program, "FLASHSALE_TEST_REDIS_SOCKET");
	unit_clear_config_env();
	signal(SIGPIPE, SIG_IGN);
}

/* A config for both test servers (MariaDB as root, Redis), breaker cooldown in ms. */
static inline void unit_servers_config(struct fs_config *cfg, long cooldown_ms)
{
	unit_config(cfg,
		    "[mysql]\nsocket = %s\nuser = root\npassword =\n[redis]\nsocket = %s\n%s"
		    "[breaker]\ncooldown_ms = %ld\n",
		    unit_env("FLASHSALE_TEST_MYSQL_SOCKET"),
		    unit_env("FLASHSALE_TEST_REDIS_SOCKET"), unit_redis_cluster_ini(), cooldown_ms);
}

/* Monotonic milliseconds, for timing assertions. */
static inline long long unit_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep for ms milliseconds. */
static inline void unit_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/*
 * A suite of one test case named name: the tests (NULL-terminated), a fixture run around
 * each (setup and teardown may be NULL), 30 s per test.
 */
static inline Suite *unit_suite(const char *name, void (*setup)(void), void (*teardown)(void),
				const TTest *const *tests)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);
	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	for (; *tests; tests++)
		tcase_add_test(tc, *tests);
	suite_add_tcase(s, tc);
	return s;
}

/* Run a suite; the number of failed tests. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

/*
 * Exit status of a program: failure if any test failed, else SKIP when part of
 * it could not run (skipped is the reason, or NULL), else success.
 */
static inline int unit_status(const char *program, int failed, const char *skipped)
{
	if (failed)
		return EXIT_FAILURE;
	if (skipped)
		unit_skip(program, skipped);
	return EXIT_SUCCESS;
}

/*
 * A Check fixture for suites that talk to the test Redis: file-scope `cfg` and
 * `cache` (connected in SETUP, freed in TEARDOWN, breaker cooldown 300 ms).
 */
#define UNIT_REDIS_FIXTURE(cfg, cache, SETUP, TEARDOWN)                                            \
	static struct fs_config cfg;                                                               \
	static struct cache *cache;                                                                \
	static void SETUP(void)                                                                    \
	{                                                                                          \
		unit_redis_config(&cfg, 300);                                                      \
		cache = cache_new(&cfg);                                                           \
		ck_assert_ptr_nonnull(cache);                                                      \
	}                                                                                          \
	static void TEARDOWN(void)                                                                 \
	{                                                                                          \
		cache_free(cache);                                                                 \
		cache = NULL;                                                                      \
		config_free(&cfg);                                                                 \
	}

#endif
