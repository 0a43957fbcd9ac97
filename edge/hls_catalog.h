// Which package an HLS name means right now: the tag "hls/<name>" on the origins (the
// first that answers), and the package manifest it points to, fetched (peer agent
// first, then the origins), checked against its digest and parsed once. Tags are
// looked up again after a short time (live packages change every segment); parsed
// packages are immutable and kept by digest.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/hls/package.h"
#include "core/url.h"
#include "http/upstreams.h"

namespace shoal::edge {

class HlsCatalog {
 public:
  using Clock = std::chrono::steady_clock;
  // `origins` must outlive the catalog.
  HlsCatalog(std::optional<Url> peer, http::Upstreams& origins)
      : peer_(std::move(peer)), origins_(origins) {}

  // Blocking (HTTP to the origins on a stale or missing entry): call on the outbound pool.
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
  const std::optional<Url> peer_;
  http::Upstreams& origins_;
  std::mutex mu_;
  std::map<std::string, Entry> names_;
};

}  // namespace shoal::edge
