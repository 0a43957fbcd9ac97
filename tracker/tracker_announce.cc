// GET /announce and GET /scrape: parse, update the peer store, answer in bencode.
// Every failure becomes a bencoded `failure reason` with HTTP 200, as BitTorrent
// clients expect; nothing a client sends can make the handler throw.
#include <algorithm>

#include "core/log.h"
#include "tracker/response.h"
#include "tracker/tracker.h"

namespace shoal::tracker {
namespace {

std::chrono::seconds whole_seconds(std::chrono::milliseconds d) {
  return std::max(std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(d));
}

// The peer's addresses: those it named (ip=, ipv6=) win; the connection's source
// address fills in its own family when the peer named none of that family.
PeerEntry entry_for(const AnnounceRequest& req, std::string_view remote) {
  PeerEntry e;
  e.peer_id = req.peer_id;
  e.port = req.port;
  e.complete = req.left == 0;
  e.is_origin = is_origin_peer_id(req.peer_id);
  // A seeder holds every piece: whatever bitfield it still sends (an agent's URL keeps
  // the last one it set) says less than left=0 does.
  if (!e.complete) e.have = req.have;
  if (req.ip.size() == 4) e.ipv4 = req.ip;
  if (req.ip.size() == 16) e.ipv6 = req.ip;
  if (req.ipv6.size() == 16) e.ipv6 = req.ipv6;
  if (auto source = ip_of_remote(remote)) {
    if (source->size() == 4 && e.ipv4.empty() && req.ip.empty()) e.ipv4 = *source;
    if (source->size() == 16 && e.ipv6.empty()) e.ipv6 = *source;
  }
  return e;
}

}  // namespace

awaitable<void> Tracker::announce(http::Exchange& ex) {
  auto req = parse_announce(ex.query(), opts_.limits);
  std::string body;
  if (!req) {
    failures_->inc();
    log::debug("bad announce", {{"remote", ex.remote_address()}, {"error", req.error().message}});
    body = encode_failure(req.error().message);
  } else {
    body = co_await announce_body(*req, ex.remote_address());
  }
  co_await respond_bencode(ex, std::move(body));
}

awaitable<std::string> Tracker::announce_body(const AnnounceRequest& req, std::string_view remote) {
  const auto now = std::chrono::steady_clock::now();
  PeerEntry self = entry_for(req, remote);
  if (self.ipv4.empty() && self.ipv6.empty()) {
    failures_->inc();
    co_return encode_failure("cannot tell the peer's address: pass ip=");
  }
  if (!req.have.empty()) {
    // The count is known once the swarm's metainfo went through this tracker.
    if (auto pieces = metainfo_cache_.pieces_of(req.info_hash)) {
      if (auto ok = check_have(req.have, *pieces); !ok) {
        failures_->inc();
        co_return encode_failure(ok.error().message);
      }
    }
  }
  auto swarm = co_await store_->announce(req.info_hash, self, req.event, now);
  if (!swarm) {
    failures_->inc();
    co_return encode_failure(swarm.error().message);
  }
  metrics_.counter("shoal_tracker_announces_total", "Valid announces by event.",
                   {{"event", std::string(event_name(req.event))}})
      .inc();

  AnnounceReply reply;
  reply.interval = whole_seconds(opts_.announce_interval);
  reply.min_interval = whole_seconds(opts_.announce_interval / 2);
  reply.compact = req.compact;
  reply.no_peer_id = req.no_peer_id;
  for (const PeerEntry& p : *swarm) {
    if (p.complete) ++reply.complete;
    else ++reply.incomplete;
  }
  // A peer that just left gets the counts but no peers: it will not connect.
  if (req.event != AnnounceEvent::stopped) {
    std::lock_guard lock(rng_mu_);
    const std::string_view have = opts_.piece_aware_handout ? std::string_view(self.have) : "";
    reply.peers = HandoutPolicy::select(std::move(*swarm), req.peer_id, req.numwant, rng_, have);
  }
  handout_size_->observe(static_cast<double>(reply.peers.size()));
  co_return encode_announce(reply);
}

awaitable<void> Tracker::scrape(http::Exchange& ex) {
  auto hashes = parse_scrape(ex.query());
  std::string body;
  if (!hashes) {
    body = encode_failure(hashes.error().message);
  } else {
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, SwarmCounts>> files;
    for (const std::string& h : *hashes) {
      auto c = co_await store_->counts(h, now);
      if (!c) {
        body = encode_failure(c.error().message);
        break;
      }
      files.emplace_back(h, *c);
    }
    if (body.empty()) body = encode_scrape(files);
  }
  co_await respond_bencode(ex, std::move(body));
}

}  // namespace shoal::tracker
