-- serve.lua: wrk script of bench/serve.sh: each request embeds one caption
-- (round robin over $BENCH_LINES) through POST /v1/embeddings.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local lines = {}
-- BENCH_FORMAT=base64: the answers' vectors as base64 (less text to write)
local fmt = os.getenv("BENCH_FORMAT")
local extra = fmt and (',"encoding_format":"' .. fmt .. '"') or ''
for l in io.lines(os.getenv("BENCH_LINES")) do
  lines[#lines + 1] = '{"input":"' .. l:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"' .. extra .. '}'
end
local i = 0
request = function()
  i = i % #lines + 1
  return wrk.format(nil, os.getenv("BENCH_PATH") or "/v1/embeddings", nil, lines[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
