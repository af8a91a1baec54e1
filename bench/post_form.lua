-- wrk: POST a form body with an Authorization header, both from the environment.
-- BODY, AUTH; with LIMIT set, each thread stops after LIMIT / threads requests.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
if os.getenv("AUTH") then wrk.headers["Authorization"] = os.getenv("AUTH") end

local limit = tonumber(os.getenv("LIMIT") or "0")
local threads = tonumber(os.getenv("THREADS") or "1")
local sent = 0
function response(status, headers, body)
  sent = sent + 1
  if limit > 0 and sent >= limit / threads then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local statuses = summary.errors.status
  io.write(string.format("JSON {\"requests\": %d, \"non2xx\": %d, \"rps\": %.1f, \"p50_ms\": %.2f, \"p99_ms\": %.2f}\n",
    summary.requests, statuses, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
