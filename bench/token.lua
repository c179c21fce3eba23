-- token.lua - wrk script: POST /seckill/v1/seckill/token as many users, one line per request.
-- usage: wrk ... -s bench/token.lua URL -- FILE ACTIVITY_ID
-- FILE has one "accessToken altchaPayload" pair a line ("-": no challenge). A payload is single
-- use, so once the lines run out they repeat and are refused (non-2xx in the table).
local reqs = {}
local n = 0
local i = 0

function init(args)
	local file, aid = args[1], args[2]
	local k = 0
	for line in io.lines(file) do
		local jwt, pow = line:match("^(%S+) (%S+)$")
		if jwt then
			local body = '{"activityId":' .. aid
			if pow ~= "-" then
				body = body .. ',"altcha":"' .. pow .. '"'
			end
			k = k + 1
			reqs[k] = wrk.format("POST", "/seckill/v1/seckill/token", {
				["Authorization"] = "Bearer " .. jwt,
				["Content-Type"] = "application/json",
			}, body .. "}")
		end
	end
	n = k
	-- The two threads (-t2) take alternate lines, so no payload is sent twice.
	i = id or 0
end

local threads = 0
function setup(thread)
	thread:set("id", threads)
	threads = threads + 1
end

function request()
	local r = reqs[i + 1]
	i = (i + 2) % n
	return r
end
