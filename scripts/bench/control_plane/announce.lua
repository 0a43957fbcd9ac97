-- wrk script: announces from PEERS synthetic peers spread over SWARMS swarms, each with a
-- piece bitfield of PIECES pieces (the agents' extension parameter named by HAVE_PARAM).
-- Peer i is in swarm i % SWARMS; 1 in 10 is a seeder. Counts answers that carry a
-- failure reason, so a store that refuses shows up instead of looking fast.
local peers = tonumber(os.getenv("PEERS") or "10000")
local swarms = tonumber(os.getenv("SWARMS") or "1000")
local pieces = tonumber(os.getenv("PIECES") or "4096")
local have_param = os.getenv("HAVE_PARAM") or ""
local fields = {}
failures = 0
local threads = {}
dofile(os.getenv("CONTROL_PLANE_DIR") .. "/bits.lua")

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(1)
  for i = 0, 63 do fields[i] = bitfield_hex(pieces) end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
end

function request()
  local i = math.random(0, peers - 1)
  local swarm = i % swarms
  local info_hash = string.format("%020d", swarm)
  local peer_id = string.format("-SHP0000-%011d", i)
  local left = (i % 10 == 0) and 0 or 1048576
  local path = "/announce?info_hash=" .. info_hash .. "&peer_id=" .. peer_id ..
      "&port=" .. (10000 + i % 50000) .. "&uploaded=0&downloaded=0&left=" .. left ..
      "&compact=1&numwant=50"
  if have_param ~= "" then
    path = path .. "&" .. have_param .. "=" .. fields[i % 64]
  end
  return wrk.format("GET", path)
end

function response(status, headers, body)
  if status ~= 200 or body:find("failure reason", 1, true) then failures = failures + 1 end
end

function done(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do failed = failed + (t:get("failures") or 0) end
  io.stderr:write(string.format("requests %d failed %d p99_ms %.2f\n", summary.requests,
                                failed, latency:percentile(99) / 1000))
end
