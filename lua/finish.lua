-- finish.lua - the order-writer finishes a batch's entries of one intents stream.
-- KEYS: 1 intents stream, 2 info, 3 stock, 4 users, 5 dead-letter stream, then one request key
--       ({a:<id>}:req:<requestId>) for each failed entry whose requestId is not empty, in entry
--       order: set to "<uid> failed <reason>" with the request ttl.
-- ARGV: 1 consumer group, 2 request ttl (s), 3 now (s), then 6 per entry: stream entry id,
--       requestId ('' if unknown, and for kinds s and x), user id, units, kind, sn or reason.
--       Kinds:
--       s  success (sn): nothing to change in Redis. The request's record stays "<uid> queued"
--          and result.c finds the order in MySQL; successes are acknowledged in one XACK.
--       r  failed, units back to the remaining stock and the user
--       f  failed, only the user's units go (MySQL never had them: activity closed, sold out)
--       d  dead letter: copied to the dead-letter stream with the reason, units back as r
--       x  acknowledged, nothing else
-- Answers: {acknowledged, dead-lettered} (enum finish_answer names the fields). Only a failed
-- entry finished for the first time changes anything, so units go back once however often a
-- batch is replayed. No acknowledged entry stays in the stream (reconcile and the dashboard count
-- what is there as unwritten): everything older than the group's oldest unacknowledged entry
-- goes in one XTRIM MINID, which drops whole stream nodes; only the batch's entries newer than
-- that (another writer still holds an older batch) are XDELed, each a seek and a scan of its
-- node.
-- An empty consumer group (the Kafka transport, whose relay acknowledged and deleted the
-- entries already) gates on the request record instead: a failed entry changes something only
-- while its record still reads "<uid> queued"; nothing is XACKed or XDELed, and successes count
-- as acknowledged.
--! include units-back.lua
local live = redis.call('HGET', KEYS[2], 'status') == '0'
local n, dead, k = 0, 0, 5
local ids, acks = {}, {}
-- Is a failed entry finished for the first time? (XACK under a group, else its record.)
local function first(id, rk, uid)
  if ARGV[1] ~= '' then return redis.call('XACK', KEYS[1], ARGV[1], id) == 1 end
  return rk ~= nil and redis.call('GET', rk) == uid .. ' queued'
end
for i = 4, #ARGV, 6 do
  local id, rid, uid, q, kind, text = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]) or 0,
    ARGV[i + 4], ARGV[i + 5]
  local rk = nil
  if rid ~= '' then k = k + 1; rk = KEYS[k] end
  if kind == 's' or kind == 'x' then
    acks[#acks + 1] = id
  elseif first(id, rk, uid) then
    if rk then redis.call('SET', rk, uid .. ' failed ' .. text, 'EX', ARGV[2]) end
    if uid ~= '' and q > 0 then units_back(KEYS[3], KEYS[4], uid, q, kind ~= 'f' and live) end
    if kind == 'd' then
      redis.call('XADD', KEYS[5], 'MAXLEN', '~', 10000, '*', 'entry', id, 'rid', rid, 'uid', uid,
        'qty', q, 'reason', text, 'ts', ARGV[3])
      dead = dead + 1
    end
    n = n + 1
  end
  ids[#ids + 1] = id
end
-- The stream ID a in parts, and whether a is older than b (both {ms, seq}).
local function parse(a)
  local ms, seq = string.match(a, '^(%d+)-(%d+)$')
  return {tonumber(ms), tonumber(seq)}
end
local function older(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end
-- The oldest entry the group has not acknowledged: its oldest pending one, else the one after
-- the last it was given; nil without the group.
local function unacked()
  local p = redis.call('XPENDING', KEYS[1], ARGV[1])
  if p[1] > 0 then return parse(p[2]) end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    for i = 1, #g - 1, 2 do
      if g[i] == 'name' and g[i + 1] == ARGV[1] then
        for j = 1, #g - 1, 2 do
          if g[j] == 'last-delivered-id' then
            local last = parse(g[j + 1])
            return {last[1], last[2] + 1}
          end
        end
      end
    end
  end
  return nil
end
if ARGV[1] == '' then
  n = n + #acks
else
  if #acks > 0 then n = n + redis.call('XACK', KEYS[1], ARGV[1], unpack(acks)) end
  local floor = unacked()
  if floor then
    redis.call('XTRIM', KEYS[1], 'MINID', floor[1] .. '-' .. floor[2])
    local rest = {}
    for _, id in ipairs(ids) do
      if not older(parse(id), floor) then rest[#rest + 1] = id end
    end
    ids = rest
  end
  if #ids > 0 then redis.call('XDEL', KEYS[1], unpack(ids)) end
end
return {n, dead}
