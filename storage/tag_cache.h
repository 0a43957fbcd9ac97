// Tags an upstream registry resolved, kept for upstream_tag_ttl: within it a tag is
// served from what the ring stored without asking upstream; past it the tag is asked
// again, and the stale answer stays usable while upstream cannot be reached. Fed the
// time by its caller (tests step it by hand). Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/digest.h"

namespace shoal::storage {

class TagCache {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Digest digest;
    bool fresh = false;  // resolved less than ttl ago
  };

  explicit TagCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  std::optional<Entry> find(std::string_view repository, std::string_view tag,
                            Clock::time_point now) const;
  void put(std::string_view repository, std::string_view tag, const Digest& d,
           Clock::time_point now);
  std::chrono::milliseconds ttl() const { return ttl_; }

 private:
  struct Resolved {
    Digest digest;
    Clock::time_point at;
  };
  static std::string key(std::string_view repository, std::string_view tag);

  const std::chrono::milliseconds ttl_;
  mutable std::mutex mu_;
  std::map<std::string, Resolved> tags_;
};

}  // namespace shoal::storage
