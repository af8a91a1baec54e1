-- wrk: POST a form body (BODY) with an optional Authorization header (AUTH), both
-- from the environment; prints one JSON line for bench/run.py.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
if os.getenv("AUTH") then wrk.headers["Authorization"] = os.getenv("AUTH") end

function done(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"non2xx\": %d, \"rps\": %.1f, \"p50_ms\": %.2f, \"p99_ms\": %.2f}\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
