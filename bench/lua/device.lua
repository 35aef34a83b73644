-- GET requests for random devices of a registered fleet.
--   wrk ... -s device.lua URL -- PATH_FORMAT FLEET
-- PATH_FORMAT has two %s: the device id (dev-0000000 ...) and its model (esp32, esp32s3, esp32c3 by id mod 3).
-- The floor and one-upsert baselines use this same script, so wrk does the same work per request everywhere.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local models = { "esp32", "esp32s3", "esp32c3" }
local format, fleet

function init(args)
  format = args[1]
  fleet = tonumber(args[2])
  math.randomseed(7919 * (tid or 1) + 17)
end

function request()
  local i = math.random(0, fleet - 1)
  return wrk.format("GET", string.format(format, string.format("dev-%07d", i), models[i % 3 + 1]))
end
