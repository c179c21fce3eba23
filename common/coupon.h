/* coupon.h - coupons shared by the coupon program, the order program and the jobs. */
#ifndef FS_COUPON_H
#define FS_COUPON_H

#include <stddef.h>

#include "db.h"

/*
 * Redis keys of flash template 7 share the hash tag {c:7} (one Cluster slot):
 *   {c:7}:info    hash start, end (0: none), limit, status
 *   {c:7}:left    coupons not yet claimed
 *   {c:7}:users   hash user id -> coupons claimed (queued or written)
 *   {c:7}:claims  stream of claims for the coupon-writer (consumer group COUPON_GROUP)
 *   {c:7}:req:<requestId>  hash uid, status, couponId | reason
 * Request ids are "<templateId>-<32 hex>", so a result lookup finds its slot.
 */
#define COUPON_STREAMS_KEY "fs:coupon:streams" /* set of live flash templates' claim streams */
#define COUPON_GROUP       "coupon-writers"

/* Outcomes beyond enum db_rc (which are negative). */
enum coupon_rc {
	COUPON_OK = 0,
	COUPON_NOT_FOUND = 1,   /* no such coupon/template, or not the caller's: 700001 */
	COUPON_UNUSABLE = 2,    /* expired, used, locked, below minimum, wrong product: 700004 */
	COUPON_ALL_CLAIMED = 3, /* 700002 */
	COUPON_LIMIT = 4,       /* 700003 */
	COUPON_CLOSED = 5,      /* stopped, not started or ended: 700005 */
};

/*
 * The API code of a coupon_rc (E_COUPON_*: 700001 not found, 700004 unusable, ...) or of a
 * db_rc (err_from_db); 0 for COUPON_OK. The one mapping of coupon outcomes.
 */
int coupon_err(int rc);

/* Write "{c:<id>}:<what>" into out. */
void coupon_key(char *out, size_t len, long long template_id, const char *what);

/* The fen a coupon takes off total: at most total - 1 (a payment is never 0). */
long long coupon_discount(long long kind, long long amount, long long percent,
			  long long max_discount, long long total);

/*
 * In the caller's transaction: issue one coupon of the template to the user, guarded by the
 * template's total and perUserLimit (rows locked, checked, then updated). request_id (NULL
 * for none) makes a flash claim idempotent: a known one answers COUPON_OK with its coupon.
 * live_only refuses stopped templates (COUPON_CLOSED). COUPON_OK (*coupon_id set), another
 * coupon_rc (nothing changed) or a db_rc.
 */
int coupon_grant(struct db *db, long long template_id, long long user_id, const char *source,
		 const char *request_id, int live_only, long long *coupon_id);

/*
 * Is the user's coupon usable for total fen of product now? COUPON_OK with *discount, or
 * COUPON_NOT_FOUND / COUPON_UNUSABLE with why (a static string), or a db_rc.
 */
int coupon_check(struct db *db, long long coupon_id, long long user_id, long long product_id,
		 long long total, long long *discount, const char **why);

/*
 * In the order's transaction: check the coupon (as coupon_check) and lock it to order_sn
 * (unused -> locked, guarded: of two orders only one gets it). COUPON_OK with *discount.
 */
int coupon_lock(struct db *db, long long coupon_id, long long user_id, long long product_id,
		long long total, const char *order_sn, long long *discount, const char **why);

/* The order was paid: its coupon locked -> used. DB_OK (also when it had none) or a db_rc. */
int coupon_use(struct db *db, const char *order_sn);

/* The order was cancelled (user or timeout): its coupon locked -> unused. DB_OK or a db_rc. */
int coupon_release(struct db *db, const char *order_sn);

/* The user's usable coupon taking the most off total fen of product: *coupon_id 0 if none. */
int coupon_best(struct db *db, long long user_id, long long product_id, long long total,
		long long *coupon_id, long long *discount);

#endif
