#include "peer/peer_agent.h"

#include <random>
#include <stdexcept>

#include "core/file_io.h"
#include "http/failure.h"
#include "http/outbound.h"
#include "http/routes.h"
#include "core/log.h"
#include "core/torrent/metainfo.h"
#include "core/oci/oci.h"

namespace shoal::peer {
namespace {

using bhttp::status;
using bhttp::verb;
namespace fs = std::filesystem;

void remove_tree(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
}

}  // namespace

PeerAgent::PeerAgent(PeerAgentOptions opts)
    : opts_(std::move(opts)),
      upstream_(origins_, opts_.trackers.empty() ? nullptr : &trackers_),
      evictions_(metrics_.counter("shoal_peer_evictions_total",
                                  "Cached blobs evicted (budget or idle TTL).")),
      failures_(metrics_.counter("shoal_peer_download_failures_total",
                                 "Downloads that failed (unknown blob, stall, verification).")),
      cache_(opts_.cache_bytes, opts_.cache_ttl),
      agent_id_(std::random_device{}() | uint64_t{std::random_device{}()} << 32 | 1) {
  auto store = BlobStore::open(opts_.data_dir);
  if (!store) throw std::runtime_error("cannot open data directory: " + store.error().message);
  store_ = std::move(*store);
  // A download interrupted by a restart starts again: its partial file is not worth
  // the bookkeeping of resuming it.
  remove_tree(incoming_dir());
  std::error_code ec;
  fs::create_directories(opts_.data_dir / "metainfo", ec);
  origins_.on_failover([](const Url& from, const Error& why, const Url& to) {
    log::warn("origin failed, trying the next",
              {{"origin", from.str()}, {"error", why.message}, {"next", to.str()}});
  });
  trackers_.on_failover([](const Url& from, const Error& why, const Url& to) {
    log::warn("tracker failed, trying the next",
              {{"tracker", from.str()}, {"error", why.message}, {"next", to.str()}});
  });
  auto listener = [this](const SwarmEvent& e) { on_swarm_event(e); };
  opts_.swarm.hide_origin = opts_.handout_window > 0;
  swarm_ = std::make_unique<Swarm>(opts_.swarm, listener);
  reseed();
  register_metrics();
}

// The listener uses swarm_: stop it while swarm_ is still whole (reset() nulls the
// pointer before the destructor runs).
PeerAgent::~PeerAgent() {
  {
    std::lock_guard lock(mu_);
    for (auto& [d, h] : handouts_) h->stop();
    for (auto& h : ended_handouts_) h->stop();
  }
  // They call into swarm_: joined first.
  handouts_.clear();
  ended_handouts_.clear();
  swarm_->stop_events();
  swarm_.reset();
}

std::string PeerAgent::metainfo_path(const Digest& d) const {
  std::string hex = d.hex();
  return (opts_.data_dir / "metainfo" / "sha256" / hex.substr(0, 2) / hex).string();
}

// Blobs cached before a restart are seeded again without re-hashing: they were
// verified before they were moved into the store.
void PeerAgent::reseed() {
  auto now = Clock::now();
  for (const Digest& d : store_->list()) {
    auto metainfo = read_small_file(metainfo_path(d), kMaxMetainfoBytes);
    auto blob = store_->open_blob(d);
    Result<void> ok = metainfo ? Result<void>() : metainfo.error();
    if (ok && blob)
      ok = swarm_->seed(d, *metainfo, fs::path(store_->path_of(d)).parent_path().string());
    if (!ok || !blob) {
      log::warn("dropping a cached blob that cannot be seeded", {{"digest", d.str()}});
      (void)store_->remove(d);
      continue;
    }
    cache_.insert(d, blob->size, now);
  }
  log::info("cache loaded", {{"blobs", cache_.size()}, {"bytes", cache_.bytes()}});
}

void PeerAgent::register_metrics() {
  auto stat = [this](uint64_t SwarmStats::*field) {
    return [this, field] { return static_cast<double>(swarm_->stats().*field); };
  };
  metrics_.counter_fn("shoal_peer_downloaded_bytes_total", "Payload bytes downloaded, by source.",
                      stat(&SwarmStats::from_origin), {{"source", "origin"}});
  metrics_.counter_fn(
      "shoal_peer_downloaded_bytes_total", "Payload bytes downloaded, by source.",
      [this] {
        auto s = swarm_->stats();
        return static_cast<double>(s.downloaded > s.from_origin ? s.downloaded - s.from_origin : 0);
      },
      {{"source", "peers"}});
  metrics_.counter_fn("shoal_peer_uploaded_bytes_total", "Payload bytes sent to other peers.",
                      stat(&SwarmStats::uploaded));
  metrics_.counter_fn("shoal_peer_pieces_total", "Pieces downloaded and verified.",
                      stat(&SwarmStats::pieces));
  metrics_.counter_fn("shoal_peer_hash_failures_total", "Pieces that failed their hash check.",
                      stat(&SwarmStats::hash_failures));
  const std::string hashed_help =
      "Bytes through SHA-256 by purpose: checking pieces, or the whole-blob digest.";
  metrics_.counter_fn("shoal_peer_hashed_bytes_total", hashed_help,
                      stat(&SwarmStats::hashed_piece), {{"purpose", "piece"}});
  metrics_.counter_fn("shoal_peer_hashed_bytes_total", hashed_help,
                      stat(&SwarmStats::hashed_whole), {{"purpose", "whole"}});
  metrics_.counter_fn("shoal_peer_read_back_bytes_total",
                      "Bytes read back from cached files to hash them (not to serve them).",
                      stat(&SwarmStats::read_back));
  metrics_.counter_fn("shoal_peer_banned_peers_total", "Peers banned for sending corrupt data.",
                      stat(&SwarmStats::bans));
  metrics_.gauge_fn("shoal_peer_swarms", "Torrents in the session (downloading or seeding).",
                    stat(&SwarmStats::torrents));
  metrics_.gauge_fn("shoal_peer_connections", "Open BitTorrent peer connections.",
                    stat(&SwarmStats::peers));
  metrics_.gauge_fn("shoal_peer_downloads_active", "Downloads in flight.", [this] {
    std::lock_guard lock(mu_);
    return static_cast<double>(inflight_.size());
  });
  metrics_.gauge_fn("shoal_peer_cache_bytes", "Bytes of cached blobs.", [this] {
    std::lock_guard lock(mu_);
    return static_cast<double>(cache_.bytes());
  });
  metrics_.gauge_fn("shoal_peer_cache_blobs", "Cached blobs.", [this] {
    std::lock_guard lock(mu_);
    return static_cast<double>(cache_.size());
  });
  metrics_.gauge_fn("shoal_peer_cache_budget_bytes", "The disk budget (--cache-size); 0: none.",
                    [this] { return static_cast<double>(opts_.cache_bytes); });
}

http::Routes<> PeerAgent::make_routes() {
  using Unmatched = http::Routes<>::Unmatched;
  auto registry_route = [this](http::Exchange& ex, std::string_view) {
    ex.set_error_renderer(&oci::error_json);
    return this->registry(ex);
  };
  return {{
              {"/health/?", {}, "health",
               [](http::Exchange& ex, std::string_view) { return http::respond_health(ex); }},
              {"/metrics/?", {}, "metrics",
               [this](http::Exchange& ex, std::string_view) {
                 return http::respond_metrics(ex, metrics_);
               }},
              {"/v2", {}, "registry", registry_route},
              {"/v2/*", {}, "registry", registry_route},
              {"/blobs/+", {verb::get, verb::head}, "blobs",
               [this](http::Exchange& ex, std::string_view d) { return get_blob(ex, d); }},
              {"/tags/+", {verb::get, verb::head}, "tags",
               [this](http::Exchange& ex, std::string_view name) { return get_tag(ex, name); }},
              {"/preload/+", {verb::post}, "preload",
               [this](http::Exchange& ex, std::string_view what) { return preload(ex, what); }},
          },
          Unmatched::by_segment};
}

awaitable<void> PeerAgent::handle(http::Exchange& ex) {
  auto start = Clock::now();
  std::string_view label = co_await routes_.serve(ex);
  recorder_.record(ex, label, start);
}

awaitable<void> PeerAgent::get_tag(http::Exchange& ex, std::string_view name) {
  auto lookup = [&] { return upstream_.resolve_tag(name); };
  auto d = co_await http::outbound(lookup);
  if (!d) co_return co_await http::respond_failure(ex, d.error(), "TAG_UNKNOWN");
  http::Head head;
  head.result(status::ok);
  head.set(bhttp::field::content_type, "text/plain");
  head.set("Docker-Content-Digest", d->str());
  co_await ex.respond(std::move(head), d->str());
}

// Starts the download and answers at once: 202 while in flight, 200 when cached.
awaitable<void> PeerAgent::preload(http::Exchange& ex, std::string_view what) {
  auto d = Digest::parse(what);
  if (!d && !what.starts_with("sha256:")) {
    auto lookup = [&] { return upstream_.resolve_tag(what); };
    d = co_await http::outbound(lookup);
    if (!d) co_return co_await http::respond_failure(ex, d.error(), "TAG_UNKNOWN");
  }
  if (!d) co_return co_await http::respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  auto dl = fetch(*d, false);
  std::string state = dl ? "downloading" : "cached";
  co_await ex.respond_json(dl ? status::accepted : status::ok,
                           R"({"digest":")" + d->str() + R"(","state":")" + state + "\"}");
}

void PeerAgent::housekeeping() {
  auto now = Clock::now();
  std::vector<std::shared_ptr<Download>> stalled;
  uint64_t reserve = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& [d, dl] : inflight_) {
      reserve += dl->size();
      if (dl->state() == Download::State::fetching &&
          now - dl->last_progress() > opts_.stall_timeout) {
        stalled.push_back(dl);
      }
    }
  }
  for (const auto& dl : stalled) {
    abandon(dl, Error(Errc::unavailable, "no piece of " + dl->digest().str() + " arrived for " +
                                             std::to_string(opts_.stall_timeout.count() / 1000) +
                                             " s: no peer or origin serves it"));
  }
  evict(now, reserve);
  std::lock_guard lock(mu_);
  std::erase_if(ended_handouts_, [](const auto& h) { return h->finished(); });
}

void PeerAgent::evict(Clock::time_point now, uint64_t reserve) {
  std::vector<Digest> victims;
  {
    std::lock_guard lock(mu_);
    victims = cache_.take_victims(now, reserve);
  }
  for (const Digest& d : victims) {
    swarm_->remove(d);
    (void)store_->remove(d);
    ::unlink(metainfo_path(d).c_str());
    evictions_.inc();
    log::info("evicted", {{"digest", d.str()}});
  }
}

}  // namespace shoal::peer
