-- wrk script: POST /api/counters/batch with FUNCMAP_BATCH_ITEMS items (default 100) over FUNCMAP_BENCH_KEYS keys
-- (bench:0, bench:1, ...), delta 1, with a batchId no other request, thread or run uses (a repeated id would be a
-- replay, applied once), so every item of every batch is applied.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local items = tonumber(os.getenv("FUNCMAP_BATCH_ITEMS") or "100")
local keys = tonumber(os.getenv("FUNCMAP_BENCH_KEYS") or "1024")
local n = 0
local tail, prefix

function init()
  math.randomseed(os.time() * 1000 + tid)
  prefix = os.time() .. "-" .. tid .. "-" .. math.random(1, 1e9)
  local offset = math.random(0, keys - 1)
  local parts = {}
  for i = 0, items - 1 do parts[#parts + 1] = '{"key":"bench:' .. ((i + offset) % keys) .. '","delta":1}' end
  tail = '","items":[' .. table.concat(parts, ",") .. ']}'
end

request = function()
  n = n + 1
  return wrk.format(nil, "/api/counters/batch", nil, '{"batchId":"b-' .. prefix .. "-" .. n .. tail)
end
