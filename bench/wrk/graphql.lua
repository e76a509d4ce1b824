-- wrk script: one GraphQL request per call, as POST (a JSON body) or GET (a URL).
-- Usage: wrk -s graphql.lua <url> -- <request file> [<request file> ...]
-- Each request file holds: METHOD, a blank-free path, the bearer token, then the body.
-- With several files (say one per user), requests take them in turn.
-- A response that is not HTTP 200, or that carries GraphQL "errors", is a failure.

local requests = {}
local threads = {}
local counter = 0

local function load(path)
  local f = assert(io.open(path, "r"))
  local method = f:read("*l")
  local target = f:read("*l")
  local token = f:read("*l")
  local body = f:read("*a")
  f:close()
  return { method = method, path = target, token = token, body = body }
end

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  failures = 0
  responses = 0
  for i, path in ipairs(args) do
    requests[i] = load(path)
  end
  turn = id
end

function request()
  turn = turn + 1
  local pick = requests[(turn % #requests) + 1]
  local headers = { ["Authorization"] = "Bearer " .. pick.token }
  if pick.method == "POST" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", pick.path, headers, pick.body)
  end
  return wrk.format("GET", pick.path, headers, nil)
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local failed, answered = 0, 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
    answered = answered + thread:get("responses")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"failed":%d,"answered":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, failed, answered,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
