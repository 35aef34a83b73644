-- Shared by every wrk script: one machine-readable line with what run.sh needs.
-- wrk counts a response outside 2xx/3xx in errors.status; run.sh refuses a run with any error.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f max_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
