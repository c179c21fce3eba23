/* purchase-lua.h - the purchase script, shared by purchase.c and bench/ceiling-fcgi.c. */
#ifndef FS_PURCHASE_LUA_H
#define FS_PURCHASE_LUA_H

/*
 * The purchase, atomically. KEYS: info, stock, users, intents, req, rl.
 * ARGV: uid, quantity, now, requestId, activityId, request ttl, user rate.
 * Returns {0, left} queued; {-7, pttl} rate limited; {-1} not loaded; {-2} not started;
 * {-3, status} ended or cancelled; {-4, left} sold out / too few left; {-5, held} limit;
 * {1} this request id is known already. Stock is taken if and only if the intent is added.
 */
#define PURCHASE_LUA                                                                               \
	"local rl = redis.call('INCR', KEYS[6])\n"                                                 \
	"if rl == 1 then redis.call('PEXPIRE', KEYS[6], 1000) end\n"                               \
	"if rl > tonumber(ARGV[7]) then return {-7, redis.call('PTTL', KEYS[6])} end\n"            \
	"local info = redis.call('HMGET', KEYS[1], 'start', 'end', 'limit', 'price', "             \
	"'product', 'status')\n"                                                                   \
	"if not info[1] then return {-1} end\n"                                                    \
	"if info[6] ~= '0' then return {-3, tonumber(info[6])} end\n"                              \
	"local now = tonumber(ARGV[3])\n"                                                          \
	"if now < tonumber(info[1]) then return {-2} end\n"                                        \
	"if now >= tonumber(info[2]) then return {-3, 0} end\n"                                    \
	"if redis.call('EXISTS', KEYS[5]) == 1 then return {1} end\n"                              \
	"local left = tonumber(redis.call('GET', KEYS[2]) or '0')\n"                               \
	"if left <= 0 then return {-4, 0} end\n"                                                   \
	"local q = tonumber(ARGV[2])\n"                                                            \
	"local have = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')\n"                     \
	"if have + q > tonumber(info[3]) then return {-5, have} end\n"                             \
	"if q > left then return {-4, left} end\n"                                                 \
	"redis.call('DECRBY', KEYS[2], q)\n"                                                       \
	"redis.call('HINCRBY', KEYS[3], ARGV[1], q)\n"                                             \
	"redis.call('XADD', KEYS[4], '*', 'rid', ARGV[4], 'uid', ARGV[1], 'aid', ARGV[5], "        \
	"'pid', info[5], 'qty', q, 'price', info[4], 'ts', ARGV[3])\n"                             \
	"redis.call('HSET', KEYS[5], 'uid', ARGV[1], 'status', 'queued')\n"                        \
	"redis.call('EXPIRE', KEYS[5], ARGV[6])\n"                                                 \
	"return {0, left - q}\n"

#endif
