#include "edge/hls_catalog.h"

#include "core/sha256.h"

namespace shoal::edge {
namespace {

constexpr size_t kMaxPackageBytes = 16u << 20;

Result<std::string> get_small(const Url& base, const std::string& path) {
  http::ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(5000);
  options.io_timeout = std::chrono::milliseconds(10000);
  options.user_agent = "shoal-edge";
  return http::get_small(base, base.target(path), kMaxPackageBytes, options);
}

}  // namespace

std::chrono::milliseconds HlsCatalog::ttl(const hls::Package& p) {
  if (p.kind == hls::Kind::live && !p.ended) {
    return std::chrono::milliseconds(std::max<uint32_t>(p.target_duration, 1) * 500);
  }
  return std::chrono::milliseconds(10'000);
}

Result<std::shared_ptr<const hls::Package>> HlsCatalog::get(const std::string& name,
                                                            Clock::time_point now) {
  {
    std::lock_guard lock(mu_);
    auto it = names_.find(name);
    if (it != names_.end() && now < it->second.expires) return it->second.package;
  }
  // The first origin that answers: a 404 is an answer, an origin that is down is not.
  auto text = origins_.first_answer(
      [&](const Url& origin) { return get_small(origin, "/tags/hls/" + name); });
  if (!text) {
    if (text.error().is(Errc::not_found))
      return Error(Errc::not_found, "no HLS package named " + name);
    return text.error();
  }
  while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
  auto d = Digest::parse(*text);
  if (!d) return Error(Errc::protocol_error, "the origin's tag hls/" + name + " is not a digest");
  std::shared_ptr<const hls::Package> package;
  {
    std::lock_guard lock(mu_);
    auto it = names_.find(name);
    if (it != names_.end() && it->second.digest == *d) package = it->second.package;
  }
  if (!package) {
    auto fetched = fetch_package(*d);
    if (!fetched) return fetched.error();
    package = *fetched;
  }
  std::lock_guard lock(mu_);
  names_.insert_or_assign(name, Entry{package, *d, now + ttl(*package)});
  return package;
}

// Through the peer agent when there is one (the package is a blob like any other),
// else or on its failure from the origins; either way it must hash to its digest.
Result<std::shared_ptr<const hls::Package>> HlsCatalog::fetch_package(const Digest& d) {
  const std::string path = "/blobs/" + d.str();
  Result<std::string> body = Error(Errc::unavailable, "no source");
  if (peer_) body = get_small(*peer_, path);
  if (!body) {
    body = origins_.first_answer([&](const Url& origin) { return get_small(origin, path); });
  }
  if (!body) return body.error();
  if (Sha256::of(body->data(), body->size()) != d) {
    return Error(Errc::protocol_error, "package " + d.str() + " does not match its digest");
  }
  auto parsed = hls::parse_package(*body);
  if (!parsed)
    return Error(Errc::protocol_error, "package " + d.str() + ": " + parsed.error().message);
  return std::make_shared<const hls::Package>(std::move(*parsed));
}

}  // namespace shoal::edge
