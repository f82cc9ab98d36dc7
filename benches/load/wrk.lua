-- wrk script for the load benchmark (benches/load/run):
--   wrk ... -s wrk.lua URL -- MODE DIR RUN
-- MODE: get | get304 | signoff | failure. DIR: what seed.py wrote. RUN: a number unique to this run,
-- so ids never repeat across runs. Each request takes the next technician's token (and job), so
-- requests spread over every seeded technician; sign-offs and failure reports get unique ids.
-- Prints one line: RESULT <requests> <seconds> <p50 ms> <p99 ms> <errors>.

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function init(args)
  mode, dir, run = args[1], args[2], tonumber(args[3])
  technicians = {}
  for line in io.lines(dir .. "/technicians.txt") do
    local token, job = line:match("^(%S+) (%S+)")
    technicians[#technicians + 1] = { "Bearer " .. token, job }
  end
  etag = read(dir .. "/etag.txt")
  signoff = read(dir .. "/signoff.json")
  failure = read(dir .. "/failure.json")
  checklist = "/v1/checklists/gas-boiler-annual-service/versions/1"
  sent = 0
end

-- A UUID unique to (run, thread, request).
local function uuid()
  return string.format("%08x-%04x-4000-8000-%012x", run, thread_no, sent)
end

function request()
  sent = sent + 1
  local t = technicians[(sent * 7 + thread_no) % #technicians + 1]
  if mode == "get" then
    return wrk.format("GET", checklist, { ["Authorization"] = t[1] })
  elseif mode == "get304" then
    return wrk.format("GET", checklist, { ["Authorization"] = t[1], ["If-None-Match"] = etag })
  elseif mode == "signoff" then
    local body = signoff:gsub("__ID__", uuid(), 1)
    return wrk.format("POST", "/v1/jobs/" .. t[2] .. "/signoffs",
      { ["Authorization"] = t[1], ["Content-Type"] = "application/json" }, body)
  else
    local body = failure:gsub("__ID__", uuid(), 1):gsub("__JOB__", t[2], 1)
    return wrk.format("POST", "/v1/failures",
      { ["Authorization"] = t[1], ["Content-Type"] = "application/json" }, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
