#include "peer/upstream.h"

#include <chrono>

#include "http/client.h"
#include "core/log.h"
#include "core/torrent/metainfo.h"

namespace shoal::peer {
namespace {

http::ClientOptions client_options() {
  http::ClientOptions o;
  o.connect_timeout = std::chrono::milliseconds(5'000);
  o.io_timeout = std::chrono::milliseconds(30'000);
  o.user_agent = "shoal-peer";
  return o;
}

Result<std::string> get_small(const Url& base, const std::string& path, size_t limit) {
  return http::get_small(base, path, limit, client_options());
}

}  // namespace

Result<std::string> Upstream::metainfo(const Digest& d) const {
  if (trackers_) {
    auto got = trackers_->first_answer([&](const Url& tracker) {
      return get_small(tracker, tracker.target("/metainfo/" + d.str()), kMaxMetainfoBytes);
    });
    // A tracker asks the same origins: its "unknown" is theirs.
    if (got || got.error().is(Errc::not_found)) return got;
    log::warn("no tracker gave the metainfo, asking the origins",
              {{"digest", d.str()}, {"error", got.error().message}});
  }
  return origins_.first_answer([&](const Url& origin) {
    return get_small(origin, origin.target("/blobs/" + d.str() + "/metainfo"), kMaxMetainfoBytes);
  });
}

Result<Digest> Upstream::resolve_tag(std::string_view name) const {
  auto got = origins_.first_answer([&](const Url& origin) {
    return get_small(origin, origin.target("/tags/" + std::string(name)), 1024);
  });
  if (!got) return got.error();
  auto d = Digest::parse(*got);
  if (!d)
    return Error(Errc::protocol_error,
                 "origin answered tag " + std::string(name) + " with \"" + *got + "\"");
  return *d;
}

Result<http::Response> Upstream::registry_get(const std::string& path_and_query,
                                              size_t limit) const {
  return origins_.first_answer([&](const Url& origin) {
    return http::get_capped(origin, origin.target(path_and_query), limit, client_options());
  });
}

Result<std::string> Upstream::deletions(const Url& origin, uint64_t since) const {
  return get_small(origin, origin.target("/deletions?since=" + std::to_string(since)), 2u << 20);
}

}  // namespace shoal::peer
