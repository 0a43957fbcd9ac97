// The ring's membership as the origin serves and checks it: GET /cluster (members,
// health, fingerprint), GET /blobs/<d>/locations (a blob's ordered owners), and the
// active health checks between origins, which also compare member lists.
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/text.h"
#include "http/outbound.h"
#include "http/util.h"
#include "origin/body.h"
#include "origin/origin.h"

namespace shoal::origin {
namespace {

using bhttp::status;
using nlohmann::json;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

json owner_json(const Owner& o) {
  return {{"url", o.url.str()}, {"self", o.self}, {"up", o.up}, {"lost", o.lost}};
}

// A peer's GET /cluster answer: its member-list fingerprint, if it sent one.
std::optional<uint64_t> fingerprint_of(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("fingerprint") ||
      !j["fingerprint"].is_string()) {
    return std::nullopt;
  }
  const std::string text = j["fingerprint"].get<std::string>();
  auto v = text::parse_uint<uint64_t>(text, 16);
  if (!v) return std::nullopt;
  return *v;
}

}  // namespace

awaitable<void> Origin::get_cluster(http::Exchange& ex) {
  const auto now = SteadyClock::now();
  json members = json::array();
  for (const auto& m : cluster_.status(now)) {
    members.push_back({{"url", m.url.str()},
                       {"self", m.self},
                       {"up", m.up},
                       {"lost", m.lost},
                       {"mismatch", m.mismatch},
                       {"down_ms", m.down_for.count()}});
  }
  json body = {{"self", cluster_.self().str()},
               {"fingerprint", hex64(cluster_.fingerprint())},
               {"replicas", cluster_.replicas()},
               {"write_quorum", cluster_.write_quorum()},
               {"members", std::move(members)},
               {"pending_copies", copies_.size()}};
  co_await ex.respond_json(status::ok, body.dump());
}

awaitable<void> Origin::get_locations(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  const auto now = SteadyClock::now();
  json owners = json::array();
  for (const Owner& o : cluster_.owners(blob_key(d->str()), now)) owners.push_back(owner_json(o));
  json repair = json::array();
  for (const Owner& o : cluster_.repair_owners(blob_key(d->str()), now)) {
    repair.push_back(o.url.str());
  }
  json body = {{"digest", d->str()},
               {"replicas", cluster_.replicas()},
               {"write_quorum", cluster_.write_quorum()},
               {"owners", std::move(owners)},
               {"repair_owners", std::move(repair)},
               {"held_here", store_->contains(*d)}};
  co_await ex.respond_json(status::ok, body.dump());
}

void Origin::check_cluster() {
  if (cluster_.options().origins.from_dns()) {
    post_ring([this] {
      auto urls = cluster_.options().origins.resolve();
      if (urls) cluster_.set_members(std::move(*urls), SteadyClock::now());
      else log::warn("cannot re-resolve the ring's members", {{"error", urls.error().message}});
    });
  }
  for (const Url& peer : cluster_.peers()) {
    post_ring([this, peer] {
      auto r = http::get_capped(peer, "/cluster", 64 * 1024, peer_client_options());
      const bool ok = r && r->status == 200;
      auto theirs = ok ? fingerprint_of(r->body) : std::nullopt;
      const bool was_mismatch = [&] {
        for (const auto& m : cluster_.status(SteadyClock::now())) {
          if (m.url.str() == peer.str()) return m.mismatch;
        }
        return false;
      }();
      cluster_.report_check(peer, ok, theirs, SteadyClock::now());
      if (theirs && *theirs != cluster_.fingerprint() && !was_mismatch) {
        log::warn("origin disagrees about the ring's members: blobs may be placed twice or "
                  "not at all until the origins lists match",
                  {{"peer", peer.str()}, {"ours", hex64(cluster_.fingerprint())},
                   {"theirs", hex64(*theirs)}});
      }
    });
  }
}

}  // namespace shoal::origin
