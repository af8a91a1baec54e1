-- wrk: GET with an optional Authorization header from the environment (AUTH).
if os.getenv("AUTH") then wrk.headers["Authorization"] = os.getenv("AUTH") end

function done(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"non2xx\": %d, \"rps\": %.1f, \"p50_ms\": %.2f, \"p99_ms\": %.2f}\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
