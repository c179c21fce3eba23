/* activity.h - units of a flash-sale activity going back (order cancelled or timed out). */
#ifndef FS_ACTIVITY_H
#define FS_ACTIVITY_H

#include "cache.h"
#include "db.h"

/*
 * In the caller's transaction: the activity's sold count and the user's quota
 * in MySQL drop by n (guarded so neither goes below zero). DB_OK or a db_rc.
 * Call it only from the update that changed the order's state, so units
 * return exactly once.
 */
int activity_return_db(struct db *db, long long activity_id, long long user_id, long long n);

/*
 * After the commit: Redis remaining stock += n and the user's units -= n for
 * the activity, and its sold-out memo/marker cleared so the units sell again.
 * 0 or -1 (reconcile repairs Redis from MySQL if this is lost).
 */
int activity_return_cache(struct cache *c, long long activity_id, long long user_id, long long n);

#endif
