-- Registers devices by walking ids sequentially through the device check (the device API's own
-- registration): ids FIRST, FIRST+STEP, ... below LAST, split between wrk's threads. When a thread has
-- walked its share it starts again from its first id (a repeated check is harmless) but slows to one request
-- per connection and second; run.sh stops wrk once the database holds every device.
--   wrk ... -s register.lua URL -- FIRST LAST STEP THREADS
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local models = { "esp32", "esp32s3", "esp32c3" }
local first, last, step, stride, next_id
local walked = false

function init(args)
  first = tonumber(args[1])
  last = tonumber(args[2])
  step = tonumber(args[3])
  local count = tonumber(args[4])
  stride = step * count
  first = first + step * ((tid or 1) - 1)
  next_id = first
end

function request()
  if next_id >= last then
    next_id = first
    walked = true
  end
  local i = next_id
  next_id = next_id + stride
  return wrk.format("GET", string.format(
    "/api/firmware/check?device_id=dev-%07d&device_model=%s&current_version=1.0.0", i, models[i % 3 + 1]))
end

function delay()
  return walked and 1000 or 0
end
