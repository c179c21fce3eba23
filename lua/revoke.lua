-- revoke.lua - a logged-out access token may no longer buy in one activity (seckill_revoke_jti).
-- KEYS: 1 the activity's revocation set ({a:<id>}:revoked, a sorted set jti -> token expiry).
-- ARGV: 1 jti, 2 the token's expiry (Unix s), 3 now (Unix s).
-- Answers: the set's size after expired tokens are dropped. The key lives at least as long as
-- the longest-lived token in it, so the purchase script sees every revoked token while it is valid.
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local t = redis.call('EXPIRETIME', KEYS[1])
local want = tonumber(last[2] or ARGV[2]) + 1
if t < want then redis.call('EXPIREAT', KEYS[1], want) end
return redis.call('ZCARD', KEYS[1])
