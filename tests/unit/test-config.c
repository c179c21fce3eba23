/* test-config.c - config.h: defaults, INI parsing, environment overrides, validation, sample. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "unit.h"

#define SECRET_LINE "[auth]\njwt_secret = " UNIT_JWT_SECRET "\n"

/* Load INI text; on failure the message is left in err. */
static int load(struct fs_config *cfg, const char *ini, char *err, size_t errlen)
{
	err[0] = '\0';
	return unit_config_text(cfg, ini, err, errlen);
}

/* Expect ini to be rejected with a message containing each of the NULL-ended words. */
static void expect_reject(const char *ini, ...)
{
	struct fs_config cfg;
	char err[512];
	va_list ap;
	ck_assert_msg(load(&cfg, ini, err, sizeof err) == -1, "accepted:\n%s", ini);
	ck_assert_msg(err[0] != '\0', "no message for:\n%s", ini);
	va_start(ap, ini);
	for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
		ck_assert_msg(strstr(err, w) != NULL, "message \"%s\" does not name \"%s\"", err,
			      w);
	va_end(ap);
}

/* A key's value in cfg as text (strings as is, integers printed). */
static const char *value_text(const struct fs_config *cfg, const struct config_key *k, char *buf,
			      size_t len)
{
	const char *base = (const char *)cfg + k->offset;
	if (k->type == CONF_STR)
		return *(char *const *)base;
	snprintf(buf, len, "%ld", *(const long *)base);
	return buf;
}

/* With only the secret set, every key holds its documented default. */
START_TEST(test_defaults)
{
	struct fs_config cfg;
	char err[512], buf[32];
	ck_assert_msg(load(&cfg, SECRET_LINE, err, sizeof err) == 0, "%s", err);
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (!k->def)
			continue;
		const char *v = value_text(&cfg, k, buf, sizeof buf);
		ck_assert_ptr_nonnull(v);
		ck_assert_msg(!strcmp(v, k->def), "%s.%s = \"%s\", default \"%s\"", k->section,
			      k->name, v, k->def);
	}
	ck_assert_str_eq(cfg.jwt_secret, UNIT_JWT_SECRET);
	ck_assert_int_eq(cfg.mysql_port, 3306);
	ck_assert_int_eq(cfg.redis_port, 6379);
	ck_assert_int_eq(cfg.redis_timeout_ms, 1000);
	ck_assert_int_eq(cfg.breaker_cooldown_ms, 1000);
	ck_assert_int_eq(cfg.access_expire, 604800);
	ck_assert_int_eq(cfg.max_body, 65536);
	ck_assert_str_eq(cfg.mysql_host, "127.0.0.1");
	ck_assert_str_eq(cfg.mysql_socket, "");
	ck_assert_str_eq(cfg.log_level, "info");
	config_free(&cfg);
	ck_assert_ptr_null(cfg.jwt_secret);
	ck_assert_ptr_null(cfg.mysql_host);
}
END_TEST

/* Values of every section are read from the file. */
START_TEST(test_file)
{
	struct fs_config cfg;
	char err[512];
	const char *ini = "; a comment\n"
			  "# another comment\n"
			  "[mysql]\n"
			  "socket = /run/test/mysqld.sock\n"
			  "host = db.example\n"
			  "port = 3307\n"
			  "user = fs\n"
			  "password = p@ss word\n"
			  "connect_timeout = 3\n"
			  "rw_timeout = 7\n"
			  "[redis]\n"
			  "socket = /run/test/redis.sock\n"
			  "port = 6380\n"
			  "timeout_ms = 250\n"
			  "password = rpw\n"
			  "[breaker]\n"
			  "cooldown_ms = 0\n"
			  "[auth]\n"
			  "jwt_secret = " UNIT_JWT_SECRET "\n"
			  "access_expire = 60\n"
			  "pwhash_opslimit = 1\n"
			  "pwhash_memlimit_kib = 8192\n"
			  "[usercenter]\n"
			  "login_fail_per_mobile = 9\n"
			  "login_fail_window = 99\n"
			  "login_per_addr = 999\n"
			  "login_addr_window = 9999\n"
			  "[http]\n"
			  "max_body = 1024\n"
			  "[log]\n"
			  "file = /var/log/fs.log\n"
			  "level = debug\n";
	ck_assert_msg(load(&cfg, ini, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(cfg.mysql_socket, "/run/test/mysqld.sock");
	ck_assert_str_eq(cfg.mysql_host, "db.example");
	ck_assert_int_eq(cfg.mysql_port, 3307);
	ck_assert_str_eq(cfg.mysql_user, "fs");
	ck_assert_str_eq(cfg.mysql_password, "p@ss word");
	ck_assert_int_eq(cfg.mysql_connect_timeout, 3);
	ck_assert_int_eq(cfg.mysql_rw_timeout, 7);
	ck_assert_str_eq(cfg.redis_socket, "/run/test/redis.sock");
	ck_assert_str_eq(cfg.redis_host, "127.0.0.1");
	ck_assert_int_eq(cfg.redis_port, 6380);
	ck_assert_int_eq(cfg.redis_timeout_ms, 250);
	ck_assert_str_eq(cfg.redis_password, "rpw");
	ck_assert_int_eq(cfg.breaker_cooldown_ms, 0);
	ck_assert_int_eq(cfg.access_expire, 60);
	ck_assert_int_eq(cfg.pwhash_opslimit, 1);
	ck_assert_int_eq(cfg.pwhash_memlimit_kib, 8192);
	ck_assert_int_eq(cfg.login_fail_per_mobile, 9);
	ck_assert_int_eq(cfg.login_fail_window, 99);
	ck_assert_int_eq(cfg.login_per_addr, 999);
	ck_assert_int_eq(cfg.login_addr_window, 9999);
	ck_assert_int_eq(cfg.max_body, 1024);
	ck_assert_str_eq(cfg.log_file, "/var/log/fs.log");
	ck_assert_str_eq(cfg.log_level, "debug");
	config_free(&cfg);
}
END_TEST

/* FLASHSALE_SECTION_KEY beats the file, for integers and strings. */
START_TEST(test_env_override)
{
	struct fs_config cfg;
	char err[512];
	const char *ini =
	    SECRET_LINE "[mysql]\nport = 1234\nuser = fromfile\n[log]\nlevel = warn\n";
	setenv("FLASHSALE_MYSQL_PORT", "4321", 1);
	setenv("FLASHSALE_MYSQL_USER", "fromenv", 1);
	setenv("FLASHSALE_LOG_LEVEL", "error", 1);
	ck_assert_msg(load(&cfg, ini, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(cfg.mysql_port, 4321);
	ck_assert_str_eq(cfg.mysql_user, "fromenv");
	ck_assert_str_eq(cfg.log_level, "error");
	config_free(&cfg);
	unit_clear_config_env();
}
END_TEST

/* A required key may come from the environment alone, and env applies without a file key. */
START_TEST(test_env_only)
{
	struct fs_config cfg;
	char err[512];
	setenv("FLASHSALE_AUTH_JWT_SECRET", UNIT_JWT_SECRET "-env", 1);
	setenv("FLASHSALE_REDIS_TIMEOUT_MS", "77", 1);
	ck_assert_msg(load(&cfg, "[mysql]\nport = 1\n", err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(cfg.jwt_secret, UNIT_JWT_SECRET "-env");
	ck_assert_int_eq(cfg.redis_timeout_ms, 77);
	ck_assert_int_eq(cfg.mysql_port, 1);
	config_free(&cfg);
	unit_clear_config_env();
}
END_TEST

/* An environment value is validated like a file value and named in the message. */
START_TEST(test_env_invalid)
{
	setenv("FLASHSALE_MYSQL_PORT", "70000", 1);
	expect_reject(SECRET_LINE, "FLASHSALE_MYSQL_PORT", NULL);
	setenv("FLASHSALE_MYSQL_PORT", "abc", 1);
	expect_reject(SECRET_LINE, "FLASHSALE_MYSQL_PORT", NULL);
	unit_clear_config_env();
}
END_TEST

/* Unknown keys and sections are rejected with the key named. */
START_TEST(test_unknown_key)
{
	expect_reject(SECRET_LINE "[mysql]\nbogus_key = 1\n", "bogus_key", "mysql", NULL);
	expect_reject(SECRET_LINE "[nosuchsection]\nport = 1\n", "nosuchsection", NULL);
	expect_reject(SECRET_LINE "[redis]\nsockt = /x\n", "sockt", NULL);
}
END_TEST

/* Non-integers for integer keys are rejected with the key named. */
START_TEST(test_not_integer)
{
	expect_reject(SECRET_LINE "[mysql]\nport = 12a\n", "mysql.port", NULL);
	expect_reject(SECRET_LINE "[mysql]\nport = abc\n", "mysql.port", NULL);
	expect_reject(SECRET_LINE "[mysql]\nport =\n", "mysql.port", NULL);
	expect_reject(SECRET_LINE "[redis]\ntimeout_ms = 1.5\n", "redis.timeout_ms", NULL);
	expect_reject(SECRET_LINE "[http]\nmax_body = 99999999999999999999999\n", "http.max_body",
		      NULL);
}
END_TEST

/* Values outside a key's bounds are rejected with the key named; the bounds themselves pass. */
START_TEST(test_out_of_range)
{
	struct fs_config cfg;
	char err[512];
	expect_reject(SECRET_LINE "[mysql]\nport = 0\n", "mysql.port", NULL);
	expect_reject(SECRET_LINE "[mysql]\nport = 65536\n", "mysql.port", NULL);
	expect_reject(SECRET_LINE "[mysql]\nport = -1\n", "mysql.port", NULL);
	expect_reject(SECRET_LINE "access_expire = 59\n", "auth.access_expire", NULL);
	expect_reject(SECRET_LINE "[redis]\ntimeout_ms = 9\n", "redis.timeout_ms", NULL);
	expect_reject(SECRET_LINE "[http]\nmax_body = 1048577\n", "http.max_body", NULL);
	ck_assert_msg(load(&cfg, SECRET_LINE "[mysql]\nport = 65535\n", err, sizeof err) == 0, "%s",
		      err);
	ck_assert_int_eq(cfg.mysql_port, 65535);
	config_free(&cfg);
	ck_assert_msg(load(&cfg, SECRET_LINE "access_expire = 60\n", err, sizeof err) == 0, "%s",
		      err);
	ck_assert_int_eq(cfg.access_expire, 60);
	config_free(&cfg);
}
END_TEST

/* Without jwt_secret the config is refused, naming the key. */
START_TEST(test_missing_secret)
{
	expect_reject("[mysql]\nport = 3306\n", "jwt_secret", NULL);
	expect_reject("", "jwt_secret", NULL);
}
END_TEST

/* A jwt_secret under 32 characters is refused; exactly 32 is accepted. */
START_TEST(test_short_secret)
{
	struct fs_config cfg;
	char err[512];
	expect_reject("[auth]\njwt_secret = 0123456789012345678901234567890\n", "jwt_secret", NULL);
	expect_reject("[auth]\njwt_secret =\n", "jwt_secret", NULL);
	ck_assert_msg(load(&cfg, "[auth]\njwt_secret = 01234567890123456789012345678901\n", err,
			   sizeof err) == 0,
		      "%s", err);
	ck_assert_uint_eq(strlen(cfg.jwt_secret), 32);
	config_free(&cfg);
}
END_TEST

/* log.level accepts only the four level names. */
START_TEST(test_log_level)
{
	struct fs_config cfg;
	char err[512];
	expect_reject(SECRET_LINE "[log]\nlevel = verbose\n", "log.level", NULL);
	ck_assert_msg(load(&cfg, SECRET_LINE "[log]\nlevel = warn\n", err, sizeof err) == 0, "%s",
		      err);
	ck_assert_str_eq(cfg.log_level, "warn");
	config_free(&cfg);
}
END_TEST

/* An explicit path that does not exist is an error naming it; a syntax error names the line. */
START_TEST(test_bad_file)
{
	struct fs_config cfg;
	char err[512] = "";
	ck_assert_int_eq(config_load(&cfg, "/nonexistent/fs-unit/flashsale.conf", err, sizeof err),
			 -1);
	ck_assert_msg(strstr(err, "/nonexistent/fs-unit/flashsale.conf") != NULL, "%s", err);
	expect_reject(SECRET_LINE "[mysql]\njust some words\n", ":4: syntax error", NULL);
}
END_TEST

/* True if line (one line of the sample) is `key =` or `#key =`. */
static int sample_line_is_key(const char *line, const char *key)
{
	const char *p = line;
	if (*p == '#')
		p++;
	size_t n = strlen(key);
	if (strncmp(p, key, n))
		return 0;
	p += n;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '=';
}

/* Every key of config_keys[] appears in its section of the sample file. */
START_TEST(test_sample_documents_all_keys)
{
	const char *path = unit_env("FLASHSALE_TEST_SAMPLE");
	ck_assert_ptr_nonnull(path);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	int *found = calloc(config_nkeys, sizeof *found);
	char line[1024], section[64] = "";
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '[') {
			snprintf(section, sizeof section, "%.*s", (int)strcspn(line + 1, "]"),
				 line + 1);
			continue;
		}
		for (size_t i = 0; i < config_nkeys; i++)
			if (!strcmp(config_keys[i].section, section) &&
			    sample_line_is_key(line, config_keys[i].name))
				found[i] = 1;
	}
	fclose(f);
	for (size_t i = 0; i < config_nkeys; i++)
		ck_assert_msg(found[i], "%s: [%s] %s is not documented", path,
			      config_keys[i].section, config_keys[i].name);
	free(found);
}
END_TEST

/* The sample file itself loads (given a secret): no unknown key or bad value in it. */
START_TEST(test_sample_loads)
{
	const char *path = unit_env("FLASHSALE_TEST_SAMPLE");
	struct fs_config cfg;
	char err[512] = "";
	ck_assert_ptr_nonnull(path);
	setenv("FLASHSALE_AUTH_JWT_SECRET", UNIT_JWT_SECRET, 1);
	ck_assert_msg(config_load(&cfg, path, err, sizeof err) == 0, "%s", err);
	config_free(&cfg);
	unit_clear_config_env();
}
END_TEST

/* The suite of this file; the sample tests only when the sample path is known. */
static Suite *config_suite(int with_sample)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, unit_clear_config_env, NULL);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_env_override);
	tcase_add_test(tc, test_env_only);
	tcase_add_test(tc, test_env_invalid);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_not_integer);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_missing_secret);
	tcase_add_test(tc, test_short_secret);
	tcase_add_test(tc, test_log_level);
	tcase_add_test(tc, test_bad_file);
	suite_add_tcase(s, tc);
	if (with_sample) {
		TCase *ts = tcase_create("sample");
		tcase_add_checked_fixture(ts, unit_clear_config_env, NULL);
		tcase_add_test(ts, test_sample_documents_all_keys);
		tcase_add_test(ts, test_sample_loads);
		suite_add_tcase(s, ts);
	}
	return s;
}

/* Run the suite; SKIP (77) if the sample could not be checked. */
int main(void)
{
	int with_sample = unit_env("FLASHSALE_TEST_SAMPLE") != NULL;
	unit_clear_config_env();
	int failed = unit_run(config_suite(with_sample));
	return unit_status("test-config", failed,
			   with_sample ? NULL
				       : "FLASHSALE_TEST_SAMPLE is not set; the sample file was "
					 "not checked");
}
