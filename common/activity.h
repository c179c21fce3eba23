/* activity.h - a flash-sale activity's state in MySQL and Redis: load, close, units going back. */
#ifndef FS_ACTIVITY_H
#define FS_ACTIVITY_H

#include <stddef.h>

#include "cache.h"
#include "db.h"

/*
 * Redis keys of activity 7 share the hash tag {a:7} (one Cluster slot); activity_key builds
 * every one of them, and nothing parses a key back:
 *   {a:7}:info     hash start, end, limit, price, product, status, stock (total)
 *   {a:7}:stock    units remaining
 *   {a:7}:users    hash user id -> units held (queued or ordered, net of returns)
 *   {a:7}:intents  stream of order intents (consumer group ACTIVITY_GROUP); acknowledged
 *                  entries are deleted, so its length is the number of in-flight intents
 *   {a:7}:stats    hash outcome -> answers of /seckill/do counted by the purchase script
 *   {a:7}:revoked  sorted set jti -> expiry of logged-out access tokens (lua/revoke.lua)
 *   {a:7}:dead     dead-letter stream of intents the order-writer could not write
 *   {a:7}:req:<requestId>  hash uid, status, sn | reason (expires after seckill.request_ttl)
 *   {a:7}:rl:<userId>      per-user request counter of the current second
 *   {a:7}:rules, :reserved, :addr:<address>, :pow:<challenge>  the anti-scalper state (guard.h)
 * Request ids are "<activityId>-<32 hex>", so a result lookup finds its slot.
 */
#define ACTIVITY_LIVE_KEY  "fs:seckill:live" /* set of the ids of activities loaded and live */
#define ACTIVITY_DEAD_KEY  "fs:seckill:dead" /* set of the ids of activities with dead letters */
#define ACTIVITY_GROUP     "writers"         /* the order-writers' consumer group */
#define ACTIVITY_GUARD_KEY "fs:seckill:guard_refusals" /* batches the sold-count guard refused */
#define ACTIVITY_KEY_MAX   160                         /* room for any key activity_key builds */
/* The writers' Kafka lag (writer.transport kafka) as the relay measured it: JSON {"lag", "at" (ms),
 * "partitions" (each partition's lag)}, set every second with this expiry (absent: no relay). */
#define ACTIVITY_KAFKA_LAG_KEY    "fs:seckill:writer_kafka_lag"
#define ACTIVITY_KAFKA_LAG_TTL_MS 5000

/* The parts of an activity's Redis state (see above). */
enum activity_part {
	AK_INFO,
	AK_STOCK,
	AK_USERS,
	AK_INTENTS,
	AK_STATS,
	AK_REVOKED,
	AK_DEAD,
	AK_REQ, /* sub: the request id */
	AK_RL,  /* sub: the user id */
	AK_RULES,
	AK_RESERVED,
	AK_ADDR, /* sub: the client address */
	AK_POW,  /* sub: a solved challenge's hex */
};

/* Activity status in MySQL and in {a:N}:info. */
enum activity_status { ACTIVITY_LIVE = 0, ACTIVITY_CANCELLED = 1, ACTIVITY_ENDED = 2 };

/* Activity changes answer enum db_change (db.h). Old names, for branches from before: */
#define ACTIVITY_CHANGED    DB_CHANGED
#define ACTIVITY_UNCHANGED  DB_UNCHANGED
#define ACTIVITY_NOT_FOUND  DB_NOT_FOUND
#define ACTIVITY_CACHE_DOWN DB_CACHE_DOWN

/* Old name of db_begin (db.c has the one retry policy), for branches from before. */
#define activity_begin db_begin

/*
 * Why a queued purchase failed: the `reason` of POST /seckill/result. The strings are
 * part of the API (clients compare them whole): add new ones, never change one.
 */
enum seckill_reason {
	REASON_NONE = 0,           /* "" */
	REASON_ACTIVITY_NOT_FOUND, /* "activity not found" */
	REASON_ACTIVITY_CLOSED,    /* "activity closed": cancelled or ended */
	REASON_SOLD_OUT,           /* "sold out" */
	REASON_LIMIT_REACHED,      /* "purchase limit reached" */
	REASON_MALFORMED,          /* "malformed intent": dead-lettered, units returned */
	REASON_UNWRITABLE,         /* "order could not be written": dead-lettered, units returned */
	REASON_COUNT
};

/* The stable string of a reason ("" for REASON_NONE or an unknown value). */
const char *seckill_reason_str(int reason);

/*
 * Write the key of part of activity id into out ("{a:<id>}:<part>", with ":<sub>" for AK_REQ,
 * AK_RL, AK_ADDR and AK_POW; sub is ignored otherwise). 0, or -1 if out is too small.
 */
int activity_key(char *out, size_t len, long long id, enum activity_part part, const char *sub);

/*
 * In the caller's transaction: the activity's sold count and the user's quota
 * in MySQL drop by n (guarded so neither goes below zero). DB_OK or a db_rc.
 * Call it only from the update that changed the order's state, so units
 * return exactly once. Units of an activity that was already cancelled or has
 * ended go on to the product (its returned count grows by n).
 */
int activity_return_db(struct db *db, long long activity_id, long long user_id, long long n);

/*
 * After the commit: Redis remaining stock += n (only while the activity is
 * live) and the user's units -= n. The per-process sold-out memo expires by
 * itself and the order-writer removes a sold-out marker once units are back.
 * 0 or -1 (reconcile repairs Redis from MySQL if this is lost).
 */
int activity_return_cache(struct cache *c, long long activity_id, long long user_id, long long n);

/*
 * Load an activity's Redis state from MySQL unless it is there already:
 * DB_CHANGED (loaded), DB_UNCHANGED, DB_NOT_FOUND, a db_rc
 * or DB_CACHE_DOWN. Never overwrites live state.
 */
int activity_cache_load(struct db *db, struct cache *c, long long id);

/*
 * Close a live activity (ACTIVITY_CANCELLED or ACTIVITY_ENDED) with a state-guarded
 * update that returns its unsold units to the product exactly once, in its own
 * transaction; then Redis: status set, remaining 0. DB_CHANGED (*unsold
 * set), DB_UNCHANGED (not live), DB_NOT_FOUND or a db_rc.
 */
int activity_close(struct db *db, struct cache *c, long long id, int status, long long *unsold);

/* Redis side of a close: status and remaining 0, stream dropped from the live set. 0 or -1. */
int activity_cache_close(struct cache *c, long long id, int status);

/* Create (sold out) or remove the marker file <dir>/<id> the web server checks. 0 or -1. */
int activity_marker_set(const char *dir, long long id);
int activity_marker_clear(const char *dir, long long id);

#endif
