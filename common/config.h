/* config.h - the flashsale.conf INI file, environment overrides, validation. */
#ifndef FS_CONFIG_H
#define FS_CONFIG_H

#include <stddef.h>

/*
 * Every setting of every program. Keys are "section.name" in the INI file;
 * FLASHSALE_SECTION_NAME in the environment overrides the file. The table in
 * config.c names each key, its type, default and bounds; flashsale.conf.sample
 * documents them all (a unit test checks that).
 */
struct fs_config {
	/* [mysql] */
	char *mysql_socket;
	char *mysql_host;
	long mysql_port;
	char *mysql_user;
	char *mysql_password;
	long mysql_connect_timeout; /* seconds */
	long mysql_rw_timeout;      /* seconds */
	long
	    mysql_request_wait_ms; /* FastCGI programs: longest wait for MySQL, ms (0: the above) */
	/* [redis] */
	char *redis_socket;
	char *redis_host;
	long redis_port;
	long redis_timeout_ms;
	char *redis_password;
	/* [breaker] */
	long breaker_cooldown_ms;
	/* [auth] */
	char *jwt_secret;
	long access_expire; /* seconds */
	long pwhash_opslimit;
	long pwhash_memlimit_kib;
	/* [usercenter] */
	long login_fail_per_mobile;
	long login_fail_window;
	long login_per_addr;
	long login_addr_window;
	/* [http] */
	long max_body;
	long body_timeout_ms;
	long http_threads; /* threads per FastCGI process, each accepting on its own */
	/* [log] */
	char *log_file;
	char *log_level;
	/* [product] (keys of the product domain go here) */
	long product_cache_ttl;   /* seconds a product detail stays in Redis */
	long product_missing_ttl; /* seconds an unknown id is remembered as such */
	/* [seckill] (keys of the flash-sale engine go here) */
	char *seckill_token_secret;   /* HMAC-SHA256 key of seckill tokens (>= 32 characters) */
	long seckill_token_ttl;       /* seconds a seckill token lives */
	char *seckill_marker_dir;     /* sold-out marker files, read by the web server */
	long seckill_soldout_memo_ms; /* per-process sold-out memo lifetime */
	long seckill_user_rate;       /* /seckill/do requests per user and activity per second */
	long seckill_request_ttl;     /* seconds a request's status stays in Redis */
	long seckill_writer_batch;    /* order-writer: stream entries read per stream per batch */
	long seckill_claim_idle_ms;   /* order-writer: pending entries idle this long are claimed */
	long seckill_preheat_minutes; /* preheat: activities starting this soon are loaded */
	long seckill_settle_grace;    /* seconds after the end before unsold units go back */
	long seckill_writer_attempts; /* order-writer: failed tries of a batch before its intents
					 are written one by one, the unwritable dead-lettered */
	/* [order] (keys of the order domain go here) */
	long order_pay_timeout;       /* seconds an order waits for payment */
				      /* [wxpay] (keys of the WeChat Pay client go here) */
	char *wxpay_api_base;         /* WeChat Pay v3 base URL (the simulator in tests) */
	char *wxpay_mchid;            /* merchant id */
	char *wxpay_appid;            /* app id bound to the merchant */
	char *wxpay_serial_no;        /* serial of the merchant API certificate */
	char *wxpay_private_key;      /* path of the merchant private key (PEM) */
	char *wxpay_platform_key;     /* path of the WeChat Pay platform public key (PEM) */
	char *wxpay_platform_serial;  /* its serial (Wechatpay-Serial) */
	char *wxpay_apiv3_key;        /* 32-character APIv3 key (notification AES-256-GCM) */
	char *wxpay_notify_url;       /* our callback URL given to WeChat */
	long wxpay_timeout_ms;        /* whole-request timeout of a call to WeChat */
	long wxpay_notify_skew;       /* seconds a notification timestamp may be off */
	long wxpay_query_after;       /* order-timeout queries waiting payments this old */
				      /* [events] (keys of the event transport go here) */
	char *events_transport;       /* redis or kafka */
	char *events_kafka_brokers;   /* bootstrap.servers when transport is kafka */
	long events_stream_maxlen;    /* approximate cap of each Redis stream */
	long events_claim_idle_ms;    /* pending entries idle this long are claimed */
	long events_kafka_timeout_ms; /* delivery report deadline (message.timeout.ms) */
	long events_max_deliveries;   /* redis: deliveries a handler may refuse before the event
					 goes to its dead-letter stream */
				      /* [jobs] (keys of jobs/ go here) */
	char *notify_url;             /* WeChat subscribe-message endpoint of jobs/notify */
	char *notify_template_id;     /* template of the "order paid" message */
	long notify_attempts;         /* tries before a notification is given up */
	long notify_backoff_ms;       /* first retry delay, doubled each time */
	/* [metrics] */
	char *metrics_dir; /* where <program>.metrics files are mapped; empty = off */
	/* [trace] */
	char *trace_socket;        /* datagram socket of jobs/trace-exporter; empty = off */
	char *trace_otlp_url;      /* OTLP/HTTP JSON endpoint the exporter posts to */
	long trace_batch;          /* spans per export */
	long trace_flush_ms;       /* export at least this often */
	long trace_sample_percent; /* requests traced without a sampled traceparent */
};

/* What a config key holds. */
enum config_type { CONF_STR, CONF_INT };

/* One row of the key table. */
struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset;
	const char *def; /* default, as text; NULL = required */
	long min, max;   /* bounds for CONF_INT */
	int secret;      /* never printed */
};

/* The key table and its length (for the sample check and `config dump`). */
extern const struct config_key config_keys[];
extern const size_t config_nkeys;

/*
 * Load defaults, then the file at path (NULL: $FLASHSALE_CONF, else
 * SYSCONFDIR/flashsale/flashsale.conf; a missing default file is allowed),
 * then the environment; validate. On error returns -1 and writes a clear
 * message to err (size errlen).
 */
int config_load(struct fs_config *cfg, const char *path, char *err, size_t errlen);

/* Free the strings a loaded config owns. */
void config_free(struct fs_config *cfg);

#endif
