// The `peer_store` setting: where a tracker keeps its swarms. Parsed at start-up so
// that a bad value is refused with one line, before anything listens.
//
//   memory                                   this process only (the default)
//   redis://HOST[:PORT][/DB]                 one Redis server (port 6379, DB 0)
//   redis-sentinel://HOST[:PORT],HOST[:PORT],.../MASTER[/DB]
//                                            the master that these Sentinels (port 26379)
//                                            name MASTER, followed across failovers
//
// HOST is a name, an IPv4 literal or a bracketed IPv6 literal ([::1]:6379).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tracker/redis_protocol.h"

namespace shoal::tracker {

struct RedisTarget {
  enum class Kind { direct, sentinel };
  Kind kind = Kind::direct;
  // The server (direct), or the Sentinels in the order they are asked.
  std::vector<redis::HostPort> servers;
  std::string master_name;  // sentinel only
  unsigned db = 0;

  // The canonical text (ports filled in), as logs name the store.
  std::string str() const;
  friend bool operator==(const RedisTarget&, const RedisTarget&) = default;
};

inline constexpr uint16_t kRedisPort = 6379;
inline constexpr uint16_t kSentinelPort = 26379;
// Redis accepts any `databases` count; this only catches nonsense early.
inline constexpr unsigned kMaxRedisDb = 1u << 20;

// nullopt for "memory"; a RedisTarget for the two Redis forms; else Errc::bad_request
// with a message saying what is wrong ("missing master name after the sentinels").
Result<std::optional<RedisTarget>> parse_peer_store(std::string_view text);

}  // namespace shoal::tracker
