-- purchase.lua - /seckill/do, atomically: stock is taken if and only if the intent is added.
-- KEYS: 1 info, 2 stock, 3 users, 4 intents, 5 req ({a:<id>}:req:<requestId>), 6 rl (the
--       user's counter of this second), 7 revoked (sorted set of logged-out jtis), 8 stats
--       (optional: without it nothing is counted).
-- ARGV: 1 user id, 2 quantity, 3 now (Unix s), 4 requestId, 5 request ttl (s), 6 refusals per
--       user and second, 7 the access token's jti.
-- Answers (enum purchase_answer):
--   {0, left}     PURCHASE_QUEUED        intent added, left units remain
--   {1}           PURCHASE_KNOWN         this requestId was queued before (a retry): queued
--   {-1}          PURCHASE_NOT_LOADED    the activity is not in Redis
--   {-2}          PURCHASE_NOT_STARTED
--   {-3, status}  PURCHASE_ENDED         ended (status 0 or 2) or cancelled (status 1)
--   {-4, left}    PURCHASE_SHORT         sold out (left 0) or fewer units left than asked
--   {-5, held}    PURCHASE_LIMIT         the user holds held units; more would pass the limit
--   {-6}          PURCHASE_REVOKED       the access token was logged out
--   {-7, pttl}    PURCHASE_RATE_LIMITED  retry after pttl ms
-- Each refusal but {-6} adds one to its field of the stats hash (the dashboard's counters:
-- soldout, limit, notstarted, ended, ratelimited), which expires with info. The queued answers
-- are not counted there: the intents stream's entries-added is their count (XINFO STREAM), and an
-- accepted purchase writes only what it must.
-- The user's rate (ARGV 6 a second) counts refusals only: an accepted purchase is bounded by
-- the per-user limit already, and leaving the counter out of it spares the accepted path two
-- writes (INCR, PEXPIRE). A user past the rate gets {-7} instead of the refusal.
-- Count answer r under field f of the stats hash, and answer it.
local function out(f, r)
  if KEYS[8] and redis.call('HINCRBY', KEYS[8], f, 1) == 1 then
    local t = redis.call('EXPIRETIME', KEYS[1])
    if t > 0 then redis.call('EXPIREAT', KEYS[8], t)
    else redis.call('EXPIRE', KEYS[8], 604800) end
  end
  return r
end
-- A refusal: counted against the user's rate first ({-7} past it), then as f.
local function refuse(f, r)
  local rl = redis.call('INCR', KEYS[6])
  if rl == 1 then redis.call('PEXPIRE', KEYS[6], 1000) end
  if rl > tonumber(ARGV[6]) then return out('ratelimited', {-7, redis.call('PTTL', KEYS[6])}) end
  return out(f, r)
end
if redis.call('EXISTS', KEYS[5]) == 1 then return {1} end
if redis.call('ZSCORE', KEYS[7], ARGV[7]) then return {-6} end
local info = redis.call('HMGET', KEYS[1], 'start', 'end', 'limit', 'status')
if not info[1] then return {-1} end
if info[4] ~= '0' then return refuse('ended', {-3, tonumber(info[4])}) end
local now = tonumber(ARGV[3])
if now < tonumber(info[1]) then return refuse('notstarted', {-2}) end
if now >= tonumber(info[2]) then return refuse('ended', {-3, 0}) end
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
if left <= 0 then return refuse('soldout', {-4, 0}) end
local q = tonumber(ARGV[2])
local have = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if have + q > tonumber(info[3]) then return refuse('limit', {-5, have}) end
if q > left then return refuse('soldout', {-4, left}) end
-- ARGV[2], not q: a Lua number passed to redis.call is formatted with "%.14g" each time (the
-- program sends the quantity as a canonical integer already).
redis.call('DECRBY', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[3], ARGV[1], ARGV[2])
-- The intent carries what only the purchase knows; the writer takes the activity from the
-- stream's name and the price and product from MySQL's activity row, which it locks anyway.
redis.call('XADD', KEYS[4], '*', 'rid', ARGV[4], 'uid', ARGV[1], 'qty', ARGV[2], 'ts', ARGV[3])
-- The request's record, one string "<uid> queued" with its TTL in one command. The writer
-- rewrites it only for a failure ("<uid> failed <reason>"); result.c answers a queued record
-- whose order is in MySQL as success, so a success costs Redis nothing more.
redis.call('SET', KEYS[5], ARGV[1] .. ' queued', 'EX', ARGV[5])
return {0, left - q}
