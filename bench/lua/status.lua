-- Status reports ("downloading", progress N) from random devices that were offered an update.
--   wrk ... -s status.lua URL -- DEVICES_FILE
-- DEVICES_FILE: one "device_id version" per line (devices that checked in and were offered that version).
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local ids, versions, n = {}, {}, 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  for line in io.lines(args[1]) do
    local id, version = line:match("^(%S+)%s+(%S+)$")
    if id then
      n = n + 1
      ids[n] = id
      versions[n] = version
    end
  end
  assert(n > 0, "no devices in " .. args[1])
  math.randomseed(7919 * (tid or 1) + 29)
end

function request()
  local k = math.random(1, n)
  local id = ids[k]
  local body = string.format(
    '{"device_id":"%s","firmware_version":"%s","status":"downloading","progress_percent":%d}',
    id, versions[k], math.random(1, 99))
  return wrk.format("POST", "/api/device/" .. id .. "/update-status", headers, body)
end
