-- units-back.lua - the one place units of an intent or order go back to an activity in Redis.
-- Included (--! include) by stock-return.lua and finish.lua; not a script of its own.
-- units_back(stock, users, uid, n, live): the user's units drop by n (never below zero) and,
-- while the activity is live, the remaining stock grows by n. Returns the user's units taken off.
local function units_back(stock, users, uid, n, live)
  local have = tonumber(redis.call('HGET', users, uid) or '0')
  local u = n
  if have < u then u = have end
  if u > 0 then redis.call('HINCRBY', users, uid, -u) end
  if live and n > 0 then redis.call('INCRBY', stock, n) end
  return u
end
