-- Firmware downloads of one image, whole or from a random offset (Range: bytes=N-, as ESP-IDF resumes).
-- The service and nginx are driven by this same script.
--   wrk ... -s download.lua URL -- PATH SIZE full|range
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local path, size, ranged

function init(args)
  path = args[1]
  size = tonumber(args[2])
  ranged = args[3] == "range"
  math.randomseed(7919 * (tid or 1) + 41)
end

function request()
  if ranged then
    return wrk.format("GET", path, { ["Range"] = "bytes=" .. math.random(0, size - 1) .. "-" })
  end
  return wrk.format("GET", path)
end
