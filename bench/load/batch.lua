-- wrk script: POST /api/counters/batch with FUNCMAP_BATCH_ITEMS items of delta 1 each.
-- Every request carries a batchId never sent before (run id from FUNCMAP_BATCH_RUN, wrk thread, request
-- number), so no batch is a duplicate and every item is applied. The items of one batch are distinct keys
-- (bench:0 .. bench:(FUNCMAP_BENCH_KEYS-1), a window that moves from batch to batch), so a batch of N items
-- is N operations on N owners' counters; the item lists are built once per thread, only the id changes.
local items = tonumber(os.getenv("FUNCMAP_BATCH_ITEMS") or "100")
local keys = tonumber(os.getenv("FUNCMAP_BENCH_KEYS") or "1024")
local run = os.getenv("FUNCMAP_BATCH_RUN") or tostring(os.time())
local variants = 16

local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.path = "/api/counters/batch"

local lists = {}
local n = 0

function init(args)
  for v = 0, variants - 1 do
    local parts = {}
    for i = 0, items - 1 do
      parts[#parts + 1] = string.format('{"key":"bench:%d","delta":1}', (v * items + i) % keys)
    end
    lists[v] = "[" .. table.concat(parts, ",") .. "]"
  end
end

request = function()
  n = n + 1
  local body = '{"batchId":"' .. run .. "-" .. tostring(tid) .. "-" .. n .. '","items":' .. lists[n % variants] .. "}"
  return wrk.format(nil, nil, nil, body)
end
