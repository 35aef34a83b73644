-- Device checks for random devices of a registered fleet, each connection pausing THINK_MS between requests,
-- so C connections offer about C / THINK_MS requests per millisecond whatever the service answers: an offered
-- load that does not drop when the service sheds (a closed loop without the pause would slow down with it).
--   wrk ... -s overload.lua URL -- PATH_FORMAT FLEET THINK_MS
-- A shed answer (503) counts in wrk's errors.status; overload.sh counts goodput as requests minus those.
-- These clients ignore Retry-After (a broken or hostile fleet); overload-polite.lua honours it.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local models = { "esp32", "esp32s3", "esp32c3" }
local format, fleet
think = 0 -- global: overload-polite.lua reads it

function init(args)
  format = args[1]
  fleet = tonumber(args[2])
  think = tonumber(args[3])
  math.randomseed(7919 * (tid or 1) + 31)
end

function delay()
  return think
end

function request()
  local i = math.random(0, fleet - 1)
  return wrk.format("GET", string.format(format, string.format("dev-%07d", i), models[i % 3 + 1]))
end
