-- wrk script: hand-out requests (GET /blobs/<DIGEST>/handout) from AGENTS synthetic
-- agents on one blob of PIECES pieces. Each agent reports a random half of the pieces as
-- held or seen (Shoal-Held), as agents do mid-pull; counts the answers by status.
local agents = tonumber(os.getenv("AGENTS") or "1000")
local pieces = tonumber(os.getenv("PIECES") or "4096")
local digest = os.getenv("DIGEST")
local held = {}
pieces_sent, waits, errors, wait_ms = 0, 0, 0, 0
local threads = {}
dofile(os.getenv("CONTROL_PLANE_DIR") .. "/bits.lua")

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(7)
  for a = 1, agents do held[a] = bitfield_hex(pieces) end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
end

function request()
  local a = math.random(1, agents)
  return wrk.format("GET", "/blobs/" .. digest .. "/handout",
                    {["Shoal-Held"] = held[a], ["Shoal-Agent"] = string.format("%x", a)})
end

function response(status, headers, body)
  if status == 200 then pieces_sent = pieces_sent + 1
  elseif status == 204 then
    waits = waits + 1
    local hint = headers["Shoal-Retry-After-Ms"] or headers["shoal-retry-after-ms"]
    wait_ms = wait_ms + (tonumber(hint) or 0)
  else errors = errors + 1 end
end

function done(summary, latency, requests)
  local sent, waited, failed, hinted = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    sent = sent + (t:get("pieces_sent") or 0)
    waited = waited + (t:get("waits") or 0)
    failed = failed + (t:get("errors") or 0)
    hinted = hinted + (t:get("wait_ms") or 0)
  end
  io.stderr:write(string.format(
      "requests %d pieces %d waits %d failed %d mean_wait_ms %.0f p99_ms %.2f\n",
      summary.requests, sent, waited, failed, waited > 0 and hinted / waited or 0,
      latency:percentile(99) / 1000))
end
