/* orders.h - state changes of an order shared by the order program and the jobs. */
#ifndef FS_ORDERS_H
#define FS_ORDERS_H

#include "cache.h"
#include "db.h"

/* Order state changes answer enum db_change (db.h). Old names, for branches from before: */
#define ORDER_CHANGED   DB_CHANGED
#define ORDER_UNCHANGED DB_UNCHANGED
#define ORDER_NOT_FOUND DB_NOT_FOUND
#define order_mark_paid orders_mark_paid

/*
 * Cancel a waiting order (trade_state 0 -> -1) with a state-guarded update and,
 * only when this call changed it, return its units: to the product, or for a
 * seckill order to the activity (MySQL in the same transaction, Redis after
 * commit). user_id 0 means any owner (jobs); reason is "user" or "timeout".
 */
int orders_cancel(struct db *db, struct cache *c, const char *sn, long long user_id,
		  const char *reason);

/* Mark a waiting order paid (0 -> 1), state-guarded; ORDER_UNCHANGED if it was not waiting. */
int orders_mark_paid(struct db *db, const char *sn, long long pay_time, const char *pay_type);

#endif
