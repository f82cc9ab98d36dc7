-- wrk script for the paging benchmark (benches/load/paging):
--   wrk ... -s paging.lua URL -- PATH TOKEN
-- Every request is GET PATH (a page of /v1/incidents) with the dispatcher's bearer TOKEN.
-- Prints one line: RESULT <requests> <seconds> <p50 ms> <p99 ms> <errors>.

function init(args)
  path, authorization = args[1], "Bearer " .. args[2]
end

function request()
  return wrk.format("GET", path, { ["Authorization"] = authorization })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %.3f %.3f %d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
