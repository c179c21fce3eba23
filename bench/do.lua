-- do.lua - wrk script: POST /seckill/v1/seckill/do as many users, round robin.
-- usage: wrk ... -s bench/do.lua URL -- TOKENS_FILE ACTIVITY_ID [nohint]
-- nohint: leave ?activityId=N out of the URL, so the program answers (not the web server).
-- TOKENS_FILE has one "accessToken seckillToken" pair a line (bench/prepare.py writes it); a
-- line "accessToken seckillToken activityId" buys from that activity instead of ACTIVITY_ID
-- (bench/cluster-prepare.py: the same users over several activities).
local reqs = {}
local n = 0
local i = 0

function init(args)
	local file, aid = args[1], args[2]
	local nohint = args[3] == "nohint"
	local k = 0
	for line in io.lines(file) do
		local jwt, tok, own = line:match("^(%S+) (%S+) ?(%d*)$")
		if jwt then
			local a = own ~= "" and own or aid
			local path = "/seckill/v1/seckill/do?activityId=" .. a
			if nohint then
				path = "/seckill/v1/seckill/do"
			end
			k = k + 1
			reqs[k] = wrk.format("POST", path, {
				["Authorization"] = "Bearer " .. jwt,
				["Content-Type"] = "application/json",
			}, '{"activityId":' .. a .. ',"token":"' .. tok .. '","quantity":1}')
		end
	end
	n = k
	-- Threads start at different users.
	i = math.random(n) - 1
end

function request()
	i = (i % n) + 1
	return reqs[i]
end
