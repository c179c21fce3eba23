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
	char *mysql_replica;       /* socket path or host:port of a read replica; "" none */
	long mysql_replica_max_lag; /* seconds of lag past which reads go to the primary */
	/* [redis] */
	char *redis_socket;
	char *redis_host;
	long redis_port;
	long redis_timeout_ms;
	char *redis_password;
	char *redis_cluster; /* host:port,... of Redis Cluster nodes; empty = one server */
	long redis_cluster_check_slots; /* refuse scripts whose keys span slots (debug, any mode) */
	long redis_wait_replicas;       /* WAIT for this many replicas after a purchase; 0 = off */
	long redis_wait_timeout_ms;     /* how long that WAIT may take */
	long redis_pipeline;            /* purchases over one shared, pipelined connection */
	/* [breaker] */
	long breaker_cooldown_ms;
	/* [auth] */
	char *jwt_secret;
	long access_expire; /* seconds */
	long pwhash_opslimit;
	long pwhash_memlimit_kib;
	long max_sessions;  /* live sessions a user keeps; the oldest go first */
	long refresh_after; /* seconds after issue before a token may be refreshed; 0: half life */
	/* [usercenter] */
	long login_fail_per_mobile;
	long login_fail_window;
	long login_per_addr;
	long login_addr_window;
	long login_fail_slow;      /* failures of one mobile (all addresses) before slowing */
	long login_slow_interval;  /* then: one attempt per this many seconds per mobile */
	long register_per_addr;    /* registrations per client address per window */
	long register_addr_window; /* seconds */
	char *trusted_addrs;       /* addresses exempt from per-address limits (comma list) */
	long require_sms_code;     /* register needs an SMS code (1) or not (0) */
	long sms_send_interval;    /* seconds between two codes to one mobile */
	long sms_daily_per_mobile; /* codes per mobile per day */
	long sms_daily_per_addr;   /* codes per client address per day */
	long sms_code_ttl;         /* seconds a code lives */
	long sms_max_tries;        /* wrong tries that burn a code */
	/* [sms] (the SMS gateway client, common/sms.c) */
	char *sms_gateway_url;   /* the provider's HTTP send endpoint (the simulator in tests) */
	char *sms_access_key;    /* provider account */
	char *sms_access_secret; /* provider secret (HMAC-SHA256 of the request) */
	char *sms_sign_name;     /* the approved signature (签名) */
	char *sms_template;      /* the approved template id */
	long sms_timeout_ms;     /* whole-request timeout */
	/* [wx] (WeChat mini-program login and the access token, common/wxapi.c) */
	char *wx_api_base;    /* https://api.weixin.qq.com (the simulator in tests) */
	char *wx_appid;       /* the mini-program's appid */
	char *wx_secret;      /* its AppSecret */
	long wx_timeout_ms;   /* whole-request timeout of a call to WeChat */
	long wx_token_margin; /* refresh the access token this many seconds before expiry */
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
	char *seckill_token_secret;    /* HMAC-SHA256 key of seckill tokens (>= 32 characters) */
	long seckill_token_ttl;        /* seconds a seckill token lives */
	char *seckill_marker_dir;      /* sold-out marker files, read by the web server */
	long seckill_soldout_memo_ms;  /* per-process sold-out memo lifetime */
	long seckill_user_rate;        /* /seckill/do requests per user and activity per second */
	long seckill_request_ttl;      /* seconds a request's status stays in Redis */
	long seckill_writer_batch;     /* order-writer: stream entries read per stream per batch */
	long seckill_writer_linger_ms; /* order-writer: wait after a batch short of writer_batch */
	long seckill_claim_idle_ms;   /* order-writer: pending entries idle this long are claimed */
	long seckill_preheat_minutes; /* preheat: activities starting this soon are loaded */
	long seckill_settle_grace;    /* seconds after the end before unsold units go back */
	long seckill_writer_attempts; /* order-writer: failed tries of a batch before its intents
					 are written one by one, the unwritable dead-lettered */
	char *seckill_pow_secret;     /* HMAC key of ALTCHA challenges (>= 32 characters) */
	long seckill_pow_ttl;         /* seconds a challenge may be solved and used */
	/* [order] (keys of the order domain go here) */
	long order_pay_timeout;       /* seconds an order waits for payment */
	long order_refund_window;     /* seconds after payment a user may ask for a refund */
	long order_max_unpaid_orders; /* open unpaid orders a user may hold */
	long order_max_unpaid_units;  /* unpaid units of one product a user may hold */
	long order_close_grace;       /* order-timeout cancels anyway this long past the deadline */
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
	char *wxpay_platform_keys;    /* more platform keys: CERT.pem or SERIAL=KEY.pem, a list */
	char *wxpay_refund_url;       /* refund callback URL given to WeChat (default derived) */
	long wxpay_refund_after;      /* refund-query queries PROCESSING refunds this old */
	long wxpay_bill_max_bytes;    /* bill-reconcile: largest trade bill downloaded */
				      /* [events] (keys of the event transport go here) */
	char *events_transport;       /* redis or kafka */
	char *events_kafka_brokers;   /* bootstrap.servers when transport is kafka */
	long events_stream_maxlen;    /* approximate cap of each Redis stream */
	long events_claim_idle_ms;    /* pending entries idle this long are claimed */
	long events_kafka_timeout_ms; /* delivery report deadline (message.timeout.ms) */
	long events_max_deliveries;   /* redis: deliveries a handler may refuse before the event
					 goes to its dead-letter stream */
				      /* [jobs] (keys of jobs/ go here) */
	char *notify_url;             /* subscribe-message endpoint; empty: [wx] api_base's */
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
	long trace_forced_rate;    /* sampled traceparents followed per second per process */
	/* [coupon] (keys of the coupon domain go here) */
	long coupon_redeem_per_user; /* redeem attempts per user per minute */
	long coupon_redeem_per_addr; /* redeem attempts per client address per minute */
	long coupon_request_ttl;     /* seconds a flash claim's status stays in Redis */
	long coupon_soldout_memo_ms; /* per-process "all claimed" memo lifetime */
	/* [writer] (the order-writer's transport) */
	char *writer_transport;       /* redis (XREADGROUP) or kafka (relay + consumer group) */
	char *writer_kafka_topic;     /* kafka: the intents topic the relay fills */
	char *writer_kafka_group;     /* kafka: the order-writers' consumer group */
	long writer_kafka_session_ms; /* kafka: session.timeout.ms of a writer */
	long writer_test_stall_ms;    /* tests only: hold each kafka batch this long mid-way */
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
