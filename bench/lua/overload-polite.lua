-- overload.lua's load from clients that honour Retry-After, as paku-ota's device component does: after a 503 or
-- 429 the next request waits Retry-After seconds instead of THINK_MS. wrk's delay() cannot tell which connection
-- asks, so each shed answer buys one such wait for the next connection of the thread that sends (the same count
-- of waits, spread over the thread's connections).
--   wrk ... -s overload-polite.lua URL -- PATH_FORMAT FLEET THINK_MS
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/overload.lua")

local waits = {}

function response(status, headers, body)
  if status == 503 or status == 429 then
    local seconds = tonumber(headers["Retry-After"] or headers["retry-after"] or "1") or 1
    waits[#waits + 1] = seconds * 1000
  end
end

function delay()
  if #waits > 0 then
    return table.remove(waits)
  end
  return think
end
