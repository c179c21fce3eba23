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
	/* [log] */
	char *log_file;
	char *log_level;
	/* [product] (keys of the product domain go here) */
	/* [seckill] (keys of the flash-sale engine go here) */
	/* [order] (keys of the order domain go here) */
	long order_pay_timeout; /* seconds an order waits for payment */
				/* [wxpay] (keys of the WeChat Pay client go here) */
				/* [events] (keys of the event transport go here) */
				/* [jobs] (keys of jobs/ go here) */
				/* [metrics] (keys of observability go here) */
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
