// Which package an HLS name means right now: the tag "hls/<name>" on the origin,
// and the package manifest it points to, fetched (peer agent first, then origin),
// checked against its digest and parsed once. Tags are looked up again after a
// short time (live packages change every segment); parsed packages are immutable
// and kept by digest.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/hls/package.h"
#include "edge/fill.h"

namespace shoal::edge {

class HlsCatalog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit HlsCatalog(FillSources sources) : sources_(std::move(sources)) {}

  // Blocking (HTTP to the origin on a stale or missing entry): call through offload.
  // Errc::not_found for a name nobody published.
  Result<std::shared_ptr<const hls::Package>> get(const std::string& name, Clock::time_point now);

  // How long a name's answer is reused: half a target duration while a live package
  // is running (so a new segment shows within 1.5 target durations), else 10 s.
  static std::chrono::milliseconds ttl(const hls::Package& p);

 private:
  Result<std::shared_ptr<const hls::Package>> fetch_package(const Digest& d);
  struct Entry {
    std::shared_ptr<const hls::Package> package;
    Digest digest;
    Clock::time_point expires;
  };
  FillSources sources_;
  std::mutex mu_;
  std::map<std::string, Entry> names_;
};

}  // namespace shoal::edge
