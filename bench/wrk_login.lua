-- wrk script for POST /v1/login/verify: rotates real login bodies (one JSON body a line in the
-- file named by WRK_BODIES: a synthetic certificate, a fresh challenge, the card key's
-- signature), with the API key from WRK_KEY. Used by bench/bench_service.py.
local bodies = {}
local n = 0
local key = os.getenv("WRK_KEY") or ""

for line in io.lines(os.getenv("WRK_BODIES")) do
  if #line > 0 then
    n = n + 1
    bodies[n] = line
  end
end

local i = 0
local headers = { ["Content-Type"] = "application/json", ["X-API-Key"] = key }

request = function()
  i = i % n + 1
  return wrk.format("POST", "/v1/login/verify", headers, bodies[i])
end
