/* lua-scripts.h - the Redis scripts of lua/<name>.lua, embedded at build time, and their answers.
 *
 * Each lua/<name>.lua starts with a comment giving its KEYS, ARGV and answers; the build
 * (tools/lua2c.sh) turns it into lua_<name>[] here. Every key a script touches is passed as
 * KEYS and all of them share one activity's hash tag {a:<id>} (activity_key), so each script
 * runs on one Redis Cluster slot. tests/lua/<name>/<case>.json run them against a real Redis.
 */
#ifndef FS_LUA_SCRIPTS_H
#define FS_LUA_SCRIPTS_H

extern const char lua_purchase[];     /* /seckill/do */
extern const char lua_finish[];       /* the order-writer finishes one stream's entries */
extern const char lua_stock_return[]; /* units of a cancelled seckill order go back */
extern const char lua_revoke[];       /* a logged-out token's jti, refused by lua_purchase */

/* The first element of lua_purchase's answer. */
enum purchase_answer {
	PURCHASE_QUEUED = 0,        /* {0, left} */
	PURCHASE_KNOWN = 1,         /* {1}: the requestId was queued before */
	PURCHASE_NOT_LOADED = -1,   /* {-1} */
	PURCHASE_NOT_STARTED = -2,  /* {-2} */
	PURCHASE_ENDED = -3,        /* {-3, status}: ended or cancelled */
	PURCHASE_SHORT = -4,        /* {-4, left}: sold out (0) or too few left */
	PURCHASE_LIMIT = -5,        /* {-5, held} */
	PURCHASE_REVOKED = -6,      /* {-6}: the access token was logged out */
	PURCHASE_RATE_LIMITED = -7, /* {-7, pttl ms} */
};

/* The elements of lua_finish's answer {acknowledged, dead-lettered}. */
enum finish_answer {
	FINISH_ACKED = 0, /* index: entries this call acknowledged */
	FINISH_DEAD = 1,  /* index: entries it moved to the dead-letter stream */
	FINISH_N = 2,
};

/* lua_stock_return's answer: the user's units taken off (>= 0), or this. */
enum stock_return_answer {
	STOCK_RETURN_NOT_LOADED = -1,
};

#endif
