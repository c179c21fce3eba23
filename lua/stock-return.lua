-- stock-return.lua - units of a cancelled or timed-out seckill order go back (activity_return_cache).
-- KEYS: 1 info, 2 stock, 3 users (of one activity: one hash tag {a:<id>}).
-- ARGV: 1 user id, 2 units.
-- Answers (enum stock_return_answer): STOCK_RETURN_NOT_LOADED (-1) when the activity is not in
-- Redis; otherwise the user's units taken off (>= 0). Stock grows only while status is '0'.
--! include units-back.lua
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -1 end
return units_back(KEYS[2], KEYS[3], ARGV[1], tonumber(ARGV[2]), st == '0')
