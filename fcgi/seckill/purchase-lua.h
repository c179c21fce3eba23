/* purchase-lua.h - the purchase script, shared by purchase.c and bench/ceiling-fcgi.c. */
#ifndef FS_PURCHASE_LUA_H
#define FS_PURCHASE_LUA_H

/*
 * The purchase, atomically. KEYS: info, stock, users, intents, req, rl, stats (optional).
 * ARGV: uid, quantity, now, requestId, activityId, request ttl, user rate.
 * Returns {0, left} queued; {-7, pttl} rate limited; {-1} not loaded; {-2} not started;
 * {-3, status} ended or cancelled; {-4, left} sold out / too few left; {-5, held} limit;
 * {1} this request id is known already. Stock is taken if and only if the intent is added.
 * Each answer but {-1} and {1} adds one to its field of the stats hash (the live dashboard's
 * per-activity counters: queued, soldout, limit, notstarted, ended, ratelimited), which
 * expires with the activity's info; without KEYS[7] (bench/ceiling-fcgi.c) nothing is counted.
 */
#define PURCHASE_LUA                                                                               \
	"local function out(f, r)\n"                                                               \
	"  if KEYS[7] and redis.call('HINCRBY', KEYS[7], f, 1) == 1 then\n"                        \
	"    local t = redis.call('EXPIRETIME', KEYS[1])\n"                                        \
	"    if t > 0 then redis.call('EXPIREAT', KEYS[7], t)\n"                                   \
	"    else redis.call('EXPIRE', KEYS[7], 604800) end\n"                                     \
	"  end\n"                                                                                  \
	"  return r\n"                                                                             \
	"end\n"                                                                                    \
	"local rl = redis.call('INCR', KEYS[6])\n"                                                 \
	"if rl == 1 then redis.call('PEXPIRE', KEYS[6], 1000) end\n"                               \
	"if rl > tonumber(ARGV[7]) then return out('ratelimited', {-7, redis.call('PTTL', "        \
	"KEYS[6])}) end\n"                                                                         \
	"local info = redis.call('HMGET', KEYS[1], 'start', 'end', 'limit', 'price', "             \
	"'product', 'status')\n"                                                                   \
	"if not info[1] then return {-1} end\n"                                                    \
	"if info[6] ~= '0' then return out('ended', {-3, tonumber(info[6])}) end\n"                \
	"local now = tonumber(ARGV[3])\n"                                                          \
	"if now < tonumber(info[1]) then return out('notstarted', {-2}) end\n"                     \
	"if now >= tonumber(info[2]) then return out('ended', {-3, 0}) end\n"                      \
	"if redis.call('EXISTS', KEYS[5]) == 1 then return {1} end\n"                              \
	"local left = tonumber(redis.call('GET', KEYS[2]) or '0')\n"                               \
	"if left <= 0 then return out('soldout', {-4, 0}) end\n"                                   \
	"local q = tonumber(ARGV[2])\n"                                                            \
	"local have = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')\n"                     \
	"if have + q > tonumber(info[3]) then return out('limit', {-5, have}) end\n"               \
	"if q > left then return out('soldout', {-4, left}) end\n"                                 \
	"redis.call('DECRBY', KEYS[2], q)\n"                                                       \
	"redis.call('HINCRBY', KEYS[3], ARGV[1], q)\n"                                             \
	"redis.call('XADD', KEYS[4], '*', 'rid', ARGV[4], 'uid', ARGV[1], 'aid', ARGV[5], "        \
	"'pid', info[5], 'qty', q, 'price', info[4], 'ts', ARGV[3])\n"                             \
	"redis.call('HSET', KEYS[5], 'uid', ARGV[1], 'status', 'queued')\n"                        \
	"redis.call('EXPIRE', KEYS[5], ARGV[6])\n"                                                 \
	"return out('queued', {0, left - q})\n"

#endif
