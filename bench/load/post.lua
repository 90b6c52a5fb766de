-- wrk script: POST {"delta": 1} as application/json.
-- FUNCMAP_BENCH_PATH is a path template; "%s" is replaced by one of FUNCMAP_BENCH_KEYS keys
-- (bench:0, bench:1, ...) in turn, so adds spread over the shards. A path without "%s" (the
-- baseline) goes through the same request() code, so wrk spends the same effort on both.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"delta": 1}'

local template = os.getenv("FUNCMAP_BENCH_PATH") or "/bench/noop"
local keys = tonumber(os.getenv("FUNCMAP_BENCH_KEYS") or "1024")
local n = 0

request = function()
  n = n + 1
  return wrk.format(nil, string.format(template, "bench:" .. (n % keys)))
end
