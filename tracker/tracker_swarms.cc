// GET /swarms/<digest>: which pieces each live peer of a blob's swarm holds, as JSON,
// for people and for the page at /ui/swarms/<digest> (swarm_page.cc). The digest is
// mapped to the info-hash peers announce through the metainfo (cached, or fetched from
// the origins as GET /metainfo does).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/digest.h"
#include "tracker/have_bits.h"
#include "tracker/swarm_page.h"
#include "tracker/tracker.h"

namespace shoal::tracker {
namespace {

using bhttp::status;
using nlohmann::json;

std::string hex_of(std::string_view raw) {
  return to_hex(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
}

std::string address_of(const PeerEntry& p) {
  if (!p.ipv4.empty()) return ip_to_string(p.ipv4) + ":" + std::to_string(p.port);
  return "[" + ip_to_string(p.ipv6) + "]:" + std::to_string(p.port);
}

// A complete peer holds every piece; an incomplete one is known by the bitfield it sent
// (null when it sent none that fits: a standard client).
json peer_json(const PeerEntry& p, uint32_t pieces) {
  json j{{"peer_id", hex_of(p.peer_id)},
         {"address", address_of(p)},
         {"complete", p.complete},
         {"origin", p.is_origin}};
  if (p.complete) {
    j["have"] = hex_of(full_have(pieces));
    j["progress"] = 1.0;
  } else if (check_have(p.have, pieces).ok()) {
    j["have"] = hex_of(p.have);
    j["progress"] = pieces == 0 ? 0.0 : static_cast<double>(count_pieces(p.have)) / pieces;
  } else {
    j["have"] = nullptr;
    j["progress"] = nullptr;
  }
  return j;
}

}  // namespace

awaitable<void> Tracker::swarms(http::Exchange& ex, std::string_view digest_text) {
  std::optional<MetainfoLookup> looked_up = co_await lookup_or_respond(ex, digest_text);
  if (!looked_up) co_return;
  MetainfoLookup& found = *looked_up;
  const Result<Digest> digest = Digest::parse(digest_text);  // valid: the lookup parsed it
  if (!found.key) {
    co_await ex.respond_error(status::bad_gateway, "METAINFO_INVALID",
                              "the origin's metainfo for " + digest->str() +
                                  " is not a Shoal blob's metainfo");
    co_return;
  }
  auto peers = co_await store_->peers(found.key->info_hash, std::chrono::steady_clock::now());
  if (!peers) {
    co_await ex.respond_error(status::service_unavailable, "UNAVAILABLE", peers.error().message);
    co_return;
  }
  // Origins first, then by address: a stable order the page can draw row by row.
  std::sort(peers->begin(), peers->end(), [](const PeerEntry& a, const PeerEntry& b) {
    if (a.is_origin != b.is_origin) return a.is_origin;
    return std::tie(a.ipv4, a.ipv6, a.port, a.peer_id) <
           std::tie(b.ipv4, b.ipv6, b.port, b.peer_id);
  });
  json list = json::array();
  for (const PeerEntry& p : *peers) list.push_back(peer_json(p, found.key->pieces));
  json body{{"digest", digest->str()},
            {"info_hash", hex_of(found.key->info_hash)},
            {"pieces", found.key->pieces},
            {"peers", std::move(list)}};
  http::Head head;
  head.result(status::ok);
  head.set(bhttp::field::content_type, "application/json");
  head.set(bhttp::field::cache_control, "no-store");
  co_await ex.respond(std::move(head), body.dump());
}

awaitable<void> Tracker::swarm_page(http::Exchange& ex, std::string_view digest_text) {
  auto digest = Digest::parse(digest_text);
  if (!digest) {
    co_await ex.respond_error(status::bad_request, "DIGEST_INVALID", digest.error().message);
    co_return;
  }
  http::Head head;
  head.result(status::ok);
  head.set(bhttp::field::content_type, "text/html; charset=utf-8");
  head.set(bhttp::field::cache_control, "no-store");
  // Everything the page needs is inline; it may talk to this tracker only.
  head.set("Content-Security-Policy",
           "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
           "connect-src 'self'");
  co_await ex.respond(std::move(head), swarm_page_html(digest->str()));
}

}  // namespace shoal::tracker
