// The Redis wire protocol (RESP2) as the Redis peer store speaks it: commands encoded
// here (an array of bulk strings, binary-safe), replies parsed by libhiredis's
// redisReader and copied into RedisReply, and the few reply shapes the store branches on.
// Pure: no sockets, so every part is unit-tested (tests/unit/tracker/redis_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

struct redisReader;  // libhiredis (hiredis/read.h); only redis_protocol.cc includes it

namespace shoal::tracker::redis {

struct Reply {
  enum class Type { string, array, integer, nil, status, error };
  Type type = Type::nil;
  std::string str;  // string, status and error replies ("ERR unknown command ...")
  int64_t integer = 0;
  std::vector<Reply> elements;  // array replies

  bool is_error() const { return type == Type::error; }
  // The error's code, its first word ("NOSCRIPT", "READONLY"); "" for other replies.
  std::string_view error_code() const;
};

// One command as RESP: *<n>\r\n then $<len>\r\n<bytes>\r\n per argument. Arguments may
// hold any bytes (peer ids are raw). Commands meant for one round trip are simply
// appended to one another.
std::string encode_command(const std::vector<std::string>& args);
std::string encode_command(std::initializer_list<std::string_view> args);

// Incremental reply parser over redisReader: feed() what the socket gave, then take
// replies with next() until it has none. A malformed stream is Errc::protocol_error,
// after which the connection must be dropped. The reader builds Reply objects itself
// (its own object functions), so that an array header is only a promise: hiredis 0.14
// would allocate a pointer per announced element up front, and "*999999999" costs 8 GB.
// Arrays over kMaxElements are refused, and bytes only buffer as they arrive.
class ReplyReader {
 public:
  // Above the largest reply the store asks for (a swarm of max_swarm_peers, at most
  // a million, in one announce).
  static constexpr int kMaxElements = 1 << 22;

  ReplyReader();
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  Result<void> feed(const char* data, size_t len);
  // The next complete reply, nullopt when more bytes are needed.
  Result<std::optional<Reply>> next();

  // For the reader's object functions (redis_protocol.cc).
  void refuse_array(int elements) { refused_elements_ = elements; }

 private:
  struct Free {
    void operator()(redisReader* r) const;
  };
  Error failure(std::string_view what) const;
  std::unique_ptr<redisReader, Free> reader_;
  int refused_elements_ = 0;
};

// What a failed reply means for the connection and the request.
enum class ReplyFault {
  none,       // not an error
  failover,   // READONLY, MASTERDOWN: this server is (no longer) a writable master
  busy,       // LOADING, BUSY, TRYAGAIN: the server cannot answer now
  full,       // OOM: maxmemory reached
  other,      // anything else (a bug in a script, a wrong DB index): reported as is
};
ReplyFault classify(const Reply& reply);

// The master's address from SENTINEL get-master-addr-by-name: ["host", "port"];
// nullopt when the sentinel does not know the master (a nil reply) or answered oddly.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  // "host:port", with brackets around an IPv6 literal.
  std::string str() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};
std::optional<HostPort> parse_master_address(const Reply& reply);
// True when a ROLE reply names a master (["master", offset, [replicas...]]).
bool role_is_master(const Reply& reply);

}  // namespace shoal::tracker::redis
