#include "tracker/redis_peer_store.h"

#include <openssl/evp.h>

#include <algorithm>

#include "core/log.h"
#include "core/text.h"

namespace shoal::tracker {
namespace {

using namespace std::chrono_literals;

// SCAN pages of 1000 keys: ten million swarms before the count gives up.
constexpr size_t kMaxScanRounds = 10'000;

// Lua 5.1 as Redis runs it. Every script takes the same four keys (SwarmKeys) and reads
// the clock with TIME: the server's clock is the one every tracker shares. Scores are
// expiry times in milliseconds; a peer is live while its score is above now.
constexpr std::string_view kAnnounceLua = R"lua(-- shoal tracker: announce
-- KEYS: peers (hash), expiry (zset), seeders (zset), downloaded (string)
-- ARGV: peer_id, entry, 'u' (add or refresh) or 's' (stopped), complete '1'/'0',
--       completed event '1'/'0', ttl (ms), most peers in one swarm
-- Answer: {0, entry...} with the swarm's live peers, or {1, peers} when it is full.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #gone > 0 then
  for i = 1, #gone, 500 do
    redis.call('HDEL', KEYS[1], unpack(gone, i, math.min(i + 499, #gone)))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
end
local id = ARGV[1]
if ARGV[3] == 's' then
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
else
  local held = redis.call('ZCARD', KEYS[2])
  if held >= tonumber(ARGV[7]) and not redis.call('ZSCORE', KEYS[2], id) then
    return {1, held}
  end
  local ttl = tonumber(ARGV[6])
  local expires = now + ttl
  redis.call('HSET', KEYS[1], id, ARGV[2])
  redis.call('ZADD', KEYS[2], expires, id)
  if ARGV[4] == '1' then
    redis.call('ZADD', KEYS[3], expires, id)
  else
    redis.call('ZREM', KEYS[3], id)
  end
  if ARGV[5] == '1' then redis.call('INCR', KEYS[4]) end
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
end
local out = redis.call('HVALS', KEYS[1])
table.insert(out, 1, 0)
return out
)lua";

constexpr std::string_view kPeersLua = R"lua(-- shoal tracker: peers
-- KEYS: peers (hash), expiry (zset), seeders (zset), downloaded (string)
-- Answer: the entries of the swarm's live peers.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. string.format('%.0f', now), '+inf')
local out = {}
for i = 1, #ids, 500 do
  local values = redis.call('HMGET', KEYS[1], unpack(ids, i, math.min(i + 499, #ids)))
  for j = 1, #values do
    if values[j] then out[#out + 1] = values[j] end
  end
end
return out
)lua";

constexpr std::string_view kCountsLua = R"lua(-- shoal tracker: counts
-- KEYS: peers (hash), expiry (zset), seeders (zset), downloaded (string)
-- Answer: {complete, incomplete, downloaded} for scrape.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = '(' .. string.format('%.0f', now)
local all = redis.call('ZCOUNT', KEYS[2], live, '+inf')
local seeders = redis.call('ZCOUNT', KEYS[3], live, '+inf')
local downloaded = tonumber(redis.call('GET', KEYS[4]) or '0') or 0
return {seeders, all - seeders, downloaded}
)lua";

const LuaScript& announce_script() {
  static const LuaScript s{kAnnounceLua, sha1_hex(kAnnounceLua)};
  return s;
}
const LuaScript& peers_script() {
  static const LuaScript s{kPeersLua, sha1_hex(kPeersLua)};
  return s;
}
const LuaScript& counts_script() {
  static const LuaScript s{kCountsLua, sha1_hex(kCountsLua)};
  return s;
}

constexpr std::string_view kOpNames[] = {"announce", "peers", "counts"};

Error bad_answer(std::string_view script) {
  return Error(Errc::unavailable, "peer store: unexpected answer from redis to the " +
                                      std::string(script) + " script");
}

}  // namespace

std::string sha1_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA-1 is not available");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

RedisPeerStore::RedisPeerStore(RedisStoreOptions options)
    : opts_(std::move(options)),
      refresh_interval_(std::clamp<std::chrono::milliseconds>(opts_.ttl / 2, 1s, 30s)),
      client_(std::make_unique<redis::Client>(
          redis::ClientOptions{opts_.target, opts_.timeout, opts_.max_connections})) {
  bind_metrics(own_metrics_);
}

RedisPeerStore::~RedisPeerStore() {
  // The client's thread may be running refresh_counts(), which touches this object's
  // members: stop it while they are all still there.
  client_.reset();
}

void RedisPeerStore::bind_metrics(metrics::Registry& registry) {
  for (int op = 0; op < kOps; ++op) {
    metrics::Labels labels{{"op", std::string(kOpNames[op])}};
    errors_[op] = &registry.counter(
        "shoal_tracker_store_errors_total",
        "Peer store operations that failed (Redis unreachable or slow, swarm full).", labels);
    seconds_[op] = &registry.histogram(
        "shoal_tracker_store_seconds",
        "Time a peer store operation took, Redis round trip included.",
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}, labels);
  }
  bad_entries_ = &registry.counter("shoal_tracker_store_bad_entries_total",
                                   "Peer entries read from Redis that did not decode (skipped).");
}

void RedisPeerStore::export_metrics(metrics::Registry& registry) {
  bind_metrics(registry);
  const redis::ClientStats* s = &client_->stats();
  auto load = [](const std::atomic<uint64_t>& v) {
    return [&v] { return static_cast<double>(v.load(std::memory_order_relaxed)); };
  };
  registry.counter_fn("shoal_tracker_redis_commands_total", "Commands sent to Redis.",
                      load(s->commands));
  registry.counter_fn("shoal_tracker_redis_connects_total", "Connections opened to Redis.",
                      load(s->connects));
  registry.counter_fn("shoal_tracker_redis_connect_failures_total",
                      "Connections to Redis or a Sentinel that could not be opened.",
                      load(s->connect_failures));
  registry.counter_fn("shoal_tracker_redis_retries_total",
                      "Requests tried again on a fresh connection after a failure.",
                      load(s->retries));
  registry.counter_fn("shoal_tracker_redis_master_changes_total",
                      "Times Sentinel named a different master.", load(s->master_changes));
  registry.gauge_fn("shoal_tracker_redis_connections", "Connections to Redis open or opening.",
                    [s] { return static_cast<double>(s->connections.load()); });
}

void RedisPeerStore::record(Op op, std::chrono::steady_clock::time_point start, bool ok) {
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  seconds_[op]->observe(took.count());
  if (!ok) errors_[op]->inc();
}

awaitable<Result<redis::Reply>> RedisPeerStore::run_script(const LuaScript& script,
                                                           const SwarmKeys& keys,
                                                           std::vector<std::string> args) {
  std::vector<std::string> cmd;
  cmd.reserve(7 + args.size());
  cmd.push_back("EVALSHA");
  cmd.push_back(script.sha1);
  cmd.push_back("4");
  cmd.push_back(keys.peers);
  cmd.push_back(keys.expiry);
  cmd.push_back(keys.seeders);
  cmd.push_back(keys.downloaded);
  for (std::string& a : args) cmd.push_back(std::move(a));
  std::string payload = redis::encode_command(cmd);
  auto replies = co_await client_->request(std::move(payload), 1);
  if (!replies) {
    co_return Error(Errc::unavailable, "peer store unavailable: " + replies.error().message);
  }
  if (replies->front().error_code() == "NOSCRIPT") {
    // A server that has not seen the script yet (new, restarted, just promoted): send it
    // whole once; Redis keeps it for the EVALSHAs that follow.
    cmd[0] = "EVAL";
    cmd[1] = std::string(script.text);
    std::string full = redis::encode_command(cmd);
    replies = co_await client_->request(std::move(full), 1);
    if (!replies) {
      co_return Error(Errc::unavailable, "peer store unavailable: " + replies.error().message);
    }
  }
  redis::Reply reply = std::move(replies->front());
  if (reply.is_error()) {
    if (redis::classify(reply) == redis::ReplyFault::full) {
      co_return Error(Errc::too_large, "peer store is full (redis: " + reply.str + ")");
    }
    co_return Error(Errc::unavailable, "peer store: redis answered: " + reply.str);
  }
  co_return reply;
}

std::vector<PeerEntry> RedisPeerStore::decode_peers(const redis::Reply& values, size_t first) {
  std::vector<PeerEntry> out;
  out.reserve(values.elements.size() - std::min(first, values.elements.size()));
  for (size_t i = first; i < values.elements.size(); ++i) {
    const redis::Reply& v = values.elements[i];
    auto e = v.type == redis::Reply::Type::string ? decode_entry(v.str) : std::nullopt;
    if (e) {
      out.push_back(std::move(*e));
    } else {
      bad_entries_->inc();  // another version's format, or damage: skip it
    }
  }
  return out;
}

awaitable<Result<std::vector<PeerEntry>>> RedisPeerStore::announce(const std::string& info_hash,
                                                                   const PeerEntry& peer,
                                                                   AnnounceEvent event,
                                                                   TimePoint) {
  const auto start = std::chrono::steady_clock::now();
  const bool stop = event == AnnounceEvent::stopped;
  std::string entry;
  if (!stop) {
    auto encoded = encode_entry(peer);
    if (!encoded) {
      record(kAnnounce, start, false);
      co_return Error(Errc::bad_request, "peer store: this peer's entry cannot be stored");
    }
    entry = std::move(*encoded);
  }
  const SwarmKeys keys = swarm_keys(opts_.key_prefix, info_hash);
  std::vector<std::string> args{peer.peer_id,
                                std::move(entry),
                                stop ? "s" : "u",
                                peer.complete ? "1" : "0",
                                event == AnnounceEvent::completed ? "1" : "0",
                                std::to_string(opts_.ttl.count()),
                                std::to_string(opts_.max_swarm_peers)};
  auto reply = co_await run_script(announce_script(), keys, std::move(args));
  if (!reply) {
    record(kAnnounce, start, false);
    co_return reply.error();
  }
  const redis::Reply& r = *reply;
  if (r.type != redis::Reply::Type::array || r.elements.empty() ||
      r.elements[0].type != redis::Reply::Type::integer) {
    record(kAnnounce, start, false);
    co_return bad_answer("announce");
  }
  if (r.elements[0].integer != 0) {
    record(kAnnounce, start, false);
    int64_t held = r.elements.size() > 1 ? r.elements[1].integer : 0;
    co_return Error(Errc::too_large, "swarm is full (" + std::to_string(held) + " peers)");
  }
  auto peers = decode_peers(r, 1);
  record(kAnnounce, start, true);
  co_return peers;
}

awaitable<Result<std::vector<PeerEntry>>> RedisPeerStore::peers(const std::string& info_hash,
                                                                TimePoint) {
  const auto start = std::chrono::steady_clock::now();
  const SwarmKeys keys = swarm_keys(opts_.key_prefix, info_hash);
  auto reply = co_await run_script(peers_script(), keys, {});
  if (!reply) {
    record(kPeers, start, false);
    co_return reply.error();
  }
  if (reply->type != redis::Reply::Type::array) {
    record(kPeers, start, false);
    co_return bad_answer("peers");
  }
  auto peers = decode_peers(*reply, 0);
  record(kPeers, start, true);
  co_return peers;
}

awaitable<Result<SwarmCounts>> RedisPeerStore::counts(const std::string& info_hash, TimePoint) {
  const auto start = std::chrono::steady_clock::now();
  const SwarmKeys keys = swarm_keys(opts_.key_prefix, info_hash);
  auto reply = co_await run_script(counts_script(), keys, {});
  if (!reply) {
    record(kCounts, start, false);
    co_return reply.error();
  }
  const auto& e = reply->elements;
  bool shaped = reply->type == redis::Reply::Type::array && e.size() == 3;
  for (size_t i = 0; shaped && i < 3; ++i) {
    shaped = e[i].type == redis::Reply::Type::integer && e[i].integer >= 0;
  }
  if (!shaped) {
    record(kCounts, start, false);
    co_return bad_answer("counts");
  }
  record(kCounts, start, true);
  co_return SwarmCounts{static_cast<uint64_t>(e[0].integer), static_cast<uint64_t>(e[1].integer),
                        static_cast<uint64_t>(e[2].integer)};
}

size_t RedisPeerStore::prune(TimePoint) {
  auto now = std::chrono::steady_clock::now();
  if (now < next_refresh_ || refreshing_.load()) return 0;
  next_refresh_ = now + refresh_interval_;
  refreshing_.store(true);
  asio::co_spawn(client_->executor(), refresh_counts(), asio::detached);
  return 0;
}

awaitable<void> RedisPeerStore::refresh_counts() {
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag.store(false); }
  } done{refreshing_};
  const std::string time_cmd = redis::encode_command({"TIME"});
  auto time = co_await client_->request_here(time_cmd, 1);
  if (!time) co_return;
  const redis::Reply& t = time->front();
  if (t.type != redis::Reply::Type::array || t.elements.size() != 2) co_return;
  auto sec = text::parse_uint(t.elements[0].str);
  auto usec = text::parse_uint(t.elements[1].str);
  if (!sec || !usec) co_return;
  const std::string live = "(" + std::to_string(*sec * 1000 + *usec / 1000);
  const std::string pattern = opts_.key_prefix + "*:expiry";
  std::string cursor = "0";
  size_t swarms = 0;
  size_t peers = 0;
  for (size_t round = 0; round < kMaxScanRounds; ++round) {
    std::string scan =
        redis::encode_command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    auto page = co_await client_->request_here(std::move(scan), 1);
    if (!page) co_return;
    const redis::Reply& p = page->front();
    if (p.type != redis::Reply::Type::array || p.elements.size() != 2 ||
        p.elements[1].type != redis::Reply::Type::array) {
      co_return;
    }
    cursor = p.elements[0].str;
    std::string batch;
    size_t n = 0;
    for (const redis::Reply& key : p.elements[1].elements) {
      batch += redis::encode_command({"ZCOUNT", key.str, live, "+inf"});
      ++n;
    }
    if (n > 0) {
      auto counted = co_await client_->request_here(std::move(batch), n);
      if (!counted) co_return;
      for (const redis::Reply& c : *counted) {
        if (c.type == redis::Reply::Type::integer && c.integer > 0) {
          ++swarms;
          peers += static_cast<size_t>(c.integer);
        }
      }
    }
    if (cursor == "0") break;
  }
  swarms_.store(swarms, std::memory_order_relaxed);
  peers_.store(peers, std::memory_order_relaxed);
}

}  // namespace shoal::tracker
