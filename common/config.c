/* config.c - load flashsale.conf with inih, apply FLASHSALE_* overrides, validate. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(struct fs_config, f)
#define S(sec, key, field, def)                                                                    \
	{                                                                                          \
		sec, key, CONF_STR, OFF(field), def, 0, 0, 0                                       \
	}
#define SS(sec, key, field, def)                                                                   \
	{                                                                                          \
		sec, key, CONF_STR, OFF(field), def, 0, 0, 1                                       \
	}
#define I(sec, key, field, def, lo, hi)                                                            \
	{                                                                                          \
		sec, key, CONF_INT, OFF(field), def, lo, hi, 0                                     \
	}

const struct config_key config_keys[] = {
    S("mysql", "socket", mysql_socket, ""),
    S("mysql", "host", mysql_host, "127.0.0.1"),
    I("mysql", "port", mysql_port, "3306", 1, 65535),
    S("mysql", "user", mysql_user, "root"),
    SS("mysql", "password", mysql_password, ""),
    I("mysql", "connect_timeout", mysql_connect_timeout, "2", 1, 60),
    I("mysql", "rw_timeout", mysql_rw_timeout, "5", 1, 600),
    I("mysql", "request_wait_ms", mysql_request_wait_ms, "500", 0, 60000),
    S("mysql", "replica", mysql_replica, ""),
    I("mysql", "replica_max_lag", mysql_replica_max_lag, "2", 0, 3600),
    S("redis", "socket", redis_socket, ""),
    S("redis", "host", redis_host, "127.0.0.1"),
    I("redis", "port", redis_port, "6379", 1, 65535),
    I("redis", "timeout_ms", redis_timeout_ms, "1000", 10, 60000),
    SS("redis", "password", redis_password, ""),
    S("redis", "cluster", redis_cluster, ""),
    I("redis", "cluster_check_slots", redis_cluster_check_slots, "0", 0, 1),
    I("redis", "wait_replicas", redis_wait_replicas, "0", 0, 16),
    I("redis", "wait_timeout_ms", redis_wait_timeout_ms, "50", 1, 10000),
    I("redis", "pipeline", redis_pipeline, "1", 0, 1),
    I("breaker", "cooldown_ms", breaker_cooldown_ms, "1000", 0, 60000),
    SS("auth", "jwt_secret", jwt_secret, NULL),
    I("auth", "access_expire", access_expire, "604800", 60, 31536000),
    I("auth", "pwhash_opslimit", pwhash_opslimit, "2", 1, 16),
    I("auth", "pwhash_memlimit_kib", pwhash_memlimit_kib, "65536", 8, 1048576),
    I("auth", "max_sessions", max_sessions, "10", 1, 1000),
    I("auth", "refresh_after", refresh_after, "0", 0, 31536000),
    I("usercenter", "login_fail_per_mobile", login_fail_per_mobile, "5", 1, 1000000),
    I("usercenter", "login_fail_window", login_fail_window, "300", 1, 86400),
    I("usercenter", "login_per_addr", login_per_addr, "30", 1, 1000000),
    I("usercenter", "login_addr_window", login_addr_window, "60", 1, 86400),
    I("usercenter", "login_fail_slow", login_fail_slow, "20", 1, 1000000),
    I("usercenter", "login_slow_interval", login_slow_interval, "2", 1, 3600),
    I("usercenter", "register_per_addr", register_per_addr, "10", 1, 1000000),
    I("usercenter", "register_addr_window", register_addr_window, "3600", 1, 86400),
    S("usercenter", "trusted_addrs", trusted_addrs, ""),
    I("usercenter", "require_sms_code", require_sms_code, "1", 0, 1),
    I("usercenter", "sms_send_interval", sms_send_interval, "60", 1, 3600),
    I("usercenter", "sms_daily_per_mobile", sms_daily_per_mobile, "10", 1, 1000000),
    I("usercenter", "sms_daily_per_addr", sms_daily_per_addr, "50", 1, 1000000),
    I("usercenter", "sms_code_ttl", sms_code_ttl, "300", 30, 3600),
    I("usercenter", "sms_max_tries", sms_max_tries, "5", 1, 100),
    /* [sms] */
    S("sms", "gateway_url", sms_gateway_url, ""),
    S("sms", "access_key", sms_access_key, ""),
    SS("sms", "access_secret", sms_access_secret, ""),
    S("sms", "sign_name", sms_sign_name, "flashsale"),
    S("sms", "template", sms_template, "SMS_LOGIN_CODE"),
    I("sms", "timeout_ms", sms_timeout_ms, "3000", 100, 60000),
    /* [wx] */
    S("wx", "api_base", wx_api_base, "https://api.weixin.qq.com"),
    S("wx", "appid", wx_appid, ""),
    SS("wx", "secret", wx_secret, ""),
    I("wx", "timeout_ms", wx_timeout_ms, "3000", 100, 60000),
    I("wx", "token_margin", wx_token_margin, "300", 0, 3600),
    /* [product] */
    I("product", "cache_ttl", product_cache_ttl, "60", 1, 86400),
    I("product", "missing_ttl", product_missing_ttl, "10", 1, 3600),
    I("http", "max_body", max_body, "65536", 1024, 1048576),
    I("http", "body_timeout_ms", body_timeout_ms, "5000", 100, 600000),
    I("http", "threads", http_threads, "8", 1, 64),
    S("log", "file", log_file, ""),
    S("log", "level", log_level, "info"),
    /* [seckill] */
    SS("seckill", "token_secret", seckill_token_secret, ""),
    I("seckill", "token_ttl", seckill_token_ttl, "60", 5, 3600),
    S("seckill", "marker_dir", seckill_marker_dir, "/run/flashsale/soldout"),
    I("seckill", "soldout_memo_ms", seckill_soldout_memo_ms, "500", 0, 60000),
    I("seckill", "user_rate", seckill_user_rate, "10", 1, 1000000),
    I("seckill", "request_ttl", seckill_request_ttl, "86400", 60, 2592000),
    I("seckill", "writer_batch", seckill_writer_batch, "500", 1, 10000),
    I("seckill", "writer_linger_ms", seckill_writer_linger_ms, "50", 0, 1000),
    I("seckill", "claim_idle_ms", seckill_claim_idle_ms, "5000", 100, 3600000),
    I("seckill", "preheat_minutes", seckill_preheat_minutes, "10", 1, 10080),
    I("seckill", "settle_grace", seckill_settle_grace, "60", 0, 86400),
    I("seckill", "writer_attempts", seckill_writer_attempts, "3", 1, 1000),
    SS("seckill", "pow_secret", seckill_pow_secret, ""),
    I("seckill", "pow_ttl", seckill_pow_ttl, "600", 30, 86400),
    /* [order] */
    I("order", "pay_timeout", order_pay_timeout, "900", 1, 86400),
    I("order", "refund_window", order_refund_window, "604800", 0, 31536000),
    I("order", "max_unpaid_orders", order_max_unpaid_orders, "10", 1, 10000),
    I("order", "max_unpaid_units", order_max_unpaid_units, "99", 1, 1000000),
    I("order", "close_grace", order_close_grace, "600", 0, 86400),
    /* [wxpay] */
    S("wxpay", "api_base", wxpay_api_base, "https://api.mch.weixin.qq.com"),
    S("wxpay", "mchid", wxpay_mchid, ""),
    S("wxpay", "appid", wxpay_appid, ""),
    S("wxpay", "serial_no", wxpay_serial_no, ""),
    S("wxpay", "private_key", wxpay_private_key, ""),
    S("wxpay", "platform_key", wxpay_platform_key, ""),
    S("wxpay", "platform_serial", wxpay_platform_serial, ""),
    SS("wxpay", "apiv3_key", wxpay_apiv3_key, ""),
    S("wxpay", "notify_url", wxpay_notify_url, ""),
    I("wxpay", "timeout_ms", wxpay_timeout_ms, "5000", 100, 60000),
    I("wxpay", "notify_skew", wxpay_notify_skew, "300", 1, 3600),
    I("wxpay", "query_after", wxpay_query_after, "60", 0, 86400),
    S("wxpay", "platform_keys", wxpay_platform_keys, ""),
    S("wxpay", "refund_notify_url", wxpay_refund_url, ""),
    I("wxpay", "refund_query_after", wxpay_refund_after, "300", 0, 86400),
    I("wxpay", "bill_max_bytes", wxpay_bill_max_bytes, "67108864", 1024, 1073741824),
    /* [events] */
    S("events", "transport", events_transport, "redis"),
    S("events", "kafka_brokers", events_kafka_brokers, ""),
    I("events", "stream_maxlen", events_stream_maxlen, "100000", 100, 100000000),
    I("events", "claim_idle_ms", events_claim_idle_ms, "30000", 100, 3600000),
    I("events", "kafka_timeout_ms", events_kafka_timeout_ms, "10000", 1000, 300000),
    I("events", "max_deliveries", events_max_deliveries, "5", 1, 1000000),
    /* [jobs] */
    S("jobs", "notify_url", notify_url, ""),
    S("jobs", "notify_template_id", notify_template_id, "order-paid"),
    I("jobs", "notify_attempts", notify_attempts, "8", 1, 100),
    I("jobs", "notify_backoff_ms", notify_backoff_ms, "500", 10, 600000),
    /* [metrics] */
    S("metrics", "dir", metrics_dir, ""),
    /* [trace] */
    S("trace", "socket", trace_socket, ""),
    S("trace", "otlp_url", trace_otlp_url, ""),
    I("trace", "batch", trace_batch, "512", 1, 100000),
    I("trace", "flush_ms", trace_flush_ms, "1000", 10, 600000),
    I("trace", "sample_percent", trace_sample_percent, "1", 0, 100),
    I("trace", "forced_per_second", trace_forced_rate, "10", 0, 1000000),
    /* [coupon] */
    I("coupon", "redeem_per_user", coupon_redeem_per_user, "10", 1, 1000000),
    I("coupon", "redeem_per_addr", coupon_redeem_per_addr, "60", 1, 1000000),
    I("coupon", "request_ttl", coupon_request_ttl, "86400", 60, 2592000),
    I("coupon", "soldout_memo_ms", coupon_soldout_memo_ms, "500", 0, 60000),
    /* [writer] */
    S("writer", "transport", writer_transport, "redis"),
    S("writer", "kafka_topic", writer_kafka_topic, "seckill.intents"),
    S("writer", "kafka_group", writer_kafka_group, "order-writers"),
    I("writer", "kafka_session_timeout_ms", writer_kafka_session_ms, "10000", 1000, 300000),
    I("writer", "test_stall_ms", writer_test_stall_ms, "0", 0, 60000),
};
const size_t config_nkeys = sizeof config_keys / sizeof config_keys[0];

/* State threaded through the inih callback. */
struct config_load_state {
	struct fs_config *cfg;
	char *err;
	size_t errlen;
	int failed;
};

/* Find a key by section and name; NULL if unknown. */
static const struct config_key *config_find(const char *section, const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (!strcmp(config_keys[i].section, section) && !strcmp(config_keys[i].name, name))
			return &config_keys[i];
	return NULL;
}

/* Store a textual value into cfg; -1 with a message if it does not parse. */
static int config_set(struct fs_config *cfg, const struct config_key *k, const char *value,
		      const char *origin, char *err, size_t errlen)
{
	char *base = (char *)cfg + k->offset;

	if (k->type == CONF_STR) {
		char **slot = (char **)base;
		char *copy = strdup(value);
		if (!copy) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		free(*slot);
		*slot = copy;
		return 0;
	}

	char *end;
	errno = 0;
	long v = strtol(value, &end, 10);
	if (errno || end == value || *end != '\0') {
		snprintf(err, errlen, "%s: %s.%s must be an integer, got \"%s\"", origin,
			 k->section, k->name, value);
		return -1;
	}
	if (v < k->min || v > k->max) {
		snprintf(err, errlen, "%s: %s.%s must be between %ld and %ld, got %ld", origin,
			 k->section, k->name, k->min, k->max, v);
		return -1;
	}
	*(long *)base = v;
	return 0;
}

/* inih callback: one key=value of the file. */
static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_load_state *st = user;
	const struct config_key *k = config_find(section, name);

	if (!k) {
		snprintf(st->err, st->errlen, "unknown key [%s] %s", section, name);
		st->failed = 1;
		return 0;
	}
	if (config_set(st->cfg, k, value, "config file", st->err, st->errlen) < 0) {
		st->failed = 1;
		return 0;
	}
	return 1;
}

/* FLASHSALE_SECTION_NAME for a key, upper-cased. */
static void config_env_name(const struct config_key *k, char *out, size_t len)
{
	snprintf(out, len, "FLASHSALE_%s_%s", k->section, k->name);
	for (char *p = out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

int config_load(struct fs_config *cfg, const char *path, char *err, size_t errlen)
{
	int explicit_path = 1;

	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->def && config_set(cfg, k, k->def, "default", err, errlen) < 0)
			goto fail;
	}

	if (!path)
		path = getenv("FLASHSALE_CONF");
	if (!path) {
		path = SYSCONFDIR "/flashsale/flashsale.conf";
		explicit_path = 0;
	}

	struct config_load_state st = {cfg, err, errlen, 0};
	int rc = ini_parse(path, config_ini_handler, &st);
	if (st.failed)
		goto fail;
	if (rc == -1 && explicit_path) {
		snprintf(err, errlen, "cannot open config file %s", path);
		goto fail;
	}
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: syntax error", path, rc);
		goto fail;
	}

	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		char name[96];
		config_env_name(k, name, sizeof name);
		const char *v = getenv(name);
		if (v && config_set(cfg, k, v, name, err, errlen) < 0)
			goto fail;
	}

	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->type == CONF_STR && !*(char **)((char *)cfg + k->offset)) {
			snprintf(err, errlen, "%s.%s is required (set it in %s or the environment)",
				 k->section, k->name, path);
			goto fail;
		}
	}
	if (strlen(cfg->jwt_secret) < 32) {
		snprintf(err, errlen, "auth.jwt_secret must be at least 32 characters");
		goto fail;
	}
	if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") &&
	    strcmp(cfg->log_level, "warn") && strcmp(cfg->log_level, "error")) {
		snprintf(err, errlen, "log.level must be debug, info, warn or error");
		goto fail;
	}
	return 0;

fail:
	config_free(cfg);
	return -1;
}

void config_free(struct fs_config *cfg)
{
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->type == CONF_STR) {
			char **slot = (char **)((char *)cfg + k->offset);
			free(*slot);
			*slot = NULL;
		}
	}
}
