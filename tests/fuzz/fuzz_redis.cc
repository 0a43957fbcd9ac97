// The Redis peer store parses Redis's replies with hiredis's reader (and branches on
// their shapes), and takes its peer_store value from configuration. (Its entry decoder
// needs PeerEntry, whose header brings in Asio's coroutines, which this clang cannot
// build: tests/unit/tracker/redis_store_test.cc feeds it every truncation instead.)
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tracker/peer_store_spec.h"
#include "tracker/redis_protocol.h"

using namespace shoal::tracker;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // A target's canonical text names the same target.
  if (auto t = parse_peer_store(text); t && *t) {
    const RedisTarget& target = **t;
    if (target.servers.empty()) std::abort();
    for (const auto& s : target.servers) {
      if (s.host.empty() || s.port == 0) std::abort();
    }
    if ((target.kind == RedisTarget::Kind::sentinel) == target.master_name.empty()) std::abort();
    auto again = parse_peer_store(target.str());
    if (!again || !*again || !(**again == target)) std::abort();
  }
  redis::ReplyReader reader;
  if (reader.feed(text.data(), text.size())) {
    for (int i = 0; i < 1000; ++i) {
      auto next = reader.next();
      if (!next || !*next) break;
      (void)redis::classify(**next);
      (void)redis::parse_master_address(**next);
      (void)redis::role_is_master(**next);
    }
  }
  return 0;
}
