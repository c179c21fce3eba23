-- coupon.lua - wrk script: POST /coupon/v1/coupon/claim of one flash template as many users.
-- usage: wrk ... -s bench/coupon.lua URL -- TOKENS_FILE TEMPLATE_ID
-- TOKENS_FILE has the access token first on each line (bench/prepare.py writes it).
local reqs = {}
local n = 0
local i = 0

function init(args)
	local file, tid = args[1], args[2]
	local k = 0
	for line in io.lines(file) do
		local jwt = line:match("^(%S+)")
		if jwt then
			k = k + 1
			reqs[k] = wrk.format("POST", "/coupon/v1/coupon/claim", {
				["Authorization"] = "Bearer " .. jwt,
				["Content-Type"] = "application/json",
			}, '{"templateId":' .. tid .. '}')
		end
	end
	n = k
	i = math.random(n) - 1
end

function request()
	i = (i % n) + 1
	return reqs[i]
end
