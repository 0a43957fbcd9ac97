#include "origin/origin.h"

#include <stdexcept>

#include "http/routes.h"
#include "core/log.h"
#include "core/oci/oci.h"
#include "origin/body.h"
#include "origin/names.h"

namespace shoal::origin {
namespace {

using bhttp::status;
using bhttp::verb;

bool is_write(verb m) {
  return m == verb::put || m == verb::post || m == verb::patch || m == verb::delete_;
}

}  // namespace

Origin::Origin(OriginOptions opts)
    : opts_(std::move(opts)),
      cluster_(opts_.cluster, SteadyClock::now()),
      tags_(opts_.data_dir / "tags"),
      repos_(opts_.data_dir / "repositories"),
      uploads_(opts_.data_dir / "uploads", opts_.max_upload_size, opts_.upload_idle_timeout),
      copies_(opts_.data_dir / "replication"),
      pace_({.rate_per_s = static_cast<double>(opts_.cluster.repair_rate),
             .burst = static_cast<double>(std::max<uint64_t>(opts_.cluster.repair_rate, 4 << 20))}) {
  auto store = BlobStore::open(opts_.data_dir);
  if (!store) throw std::runtime_error("cannot open data directory: " + store.error().message);
  store_ = std::move(*store);
  if (auto ok = tags_.init(); !ok) throw std::runtime_error(ok.error().message);
  if (auto ok = repos_.init(); !ok) throw std::runtime_error(ok.error().message);
  metainfo_ =
      std::make_unique<MetainfoStore>(opts_.data_dir / "metainfo", *store_, opts_.piece_size);
  if (auto ok = metainfo_->init(); !ok) throw std::runtime_error(ok.error().message);
  if (!opts_.trackers.empty()) {
    seeder_ = std::make_unique<Seeder>(SeederOptions{
        opts_.trackers, opts_.bt_listen, SeederOptions{}.fingerprint, opts_.super_seeding});
    metrics_.gauge_fn("shoal_origin_seeding_torrents", "Blobs the origin seeds into the swarm.",
                      [this] { return static_cast<double>(seeder_->torrents()); });
    metrics_.gauge_fn("shoal_origin_bt_uploaded_bytes", "Payload bytes the origin sent to peers.",
                      [this] { return static_cast<double>(seeder_->uploaded_bytes()); });
  }
  if (auto ok = uploads_.load(Clock::now()); !ok) throw std::runtime_error(ok.error().message);
  if (auto ok = copies_.init(SteadyClock::now()); !ok) throw std::runtime_error(ok.error().message);
  init_backend();
  register_ring_metrics();
  handout_bytes_ = &metrics_.counter("shoal_origin_handout_bytes_total",
                                     "Piece bytes the origin handed out over HTTP to agents.");
  const char* reasons[] = {"first", "unseen", "stuck", "endgame", "overdue"};
  for (size_t i = 0; i < handout_pieces_.size(); ++i) {
    handout_pieces_[i] =
        &metrics_.counter("shoal_origin_handout_pieces_total",
                          "Pieces the origin handed out over HTTP to agents, by why: never sent "
                          "before; sent, but reported by no agent since; stuck on the way; "
                          "to an agent missing only a few pieces; seen at a peer that does not "
                          "deliver it.",
                          {{"reason", reasons[i]}});
  }

  metrics_.gauge_fn("shoal_origin_upload_sessions", "Open resumable upload sessions.",
                    [this] { return static_cast<double>(uploads_.count()); });
  metrics_.gauge_fn("shoal_store_bytes", "Bytes of committed blobs in the store.",
                    [this] { return static_cast<double>(store_->total_bytes()); });
  metrics_.gauge_fn("shoal_store_blobs", "Committed blobs in the store.",
                    [this] { return static_cast<double>(store_->blob_count()); });
}

http::Routes<> Origin::make_routes() {
  using Unmatched = http::Routes<>::Unmatched;
  auto health = [](http::Exchange& ex, std::string_view) { return http::respond_health(ex); };
  auto metrics_route = [this](http::Exchange& ex, std::string_view) {
    return http::respond_metrics(ex, metrics_);
  };
  auto registry_route = [this](http::Exchange& ex, std::string_view) { return this->registry(ex); };
  auto uploads_route = [this](http::Exchange& ex, std::string_view rest) {
    return this->uploads(ex, rest);
  };
  auto cluster_route = [this](http::Exchange& ex, std::string_view) { return get_cluster(ex); };
  auto blob = [this](http::Exchange& ex, std::string_view digest) -> awaitable<void> {
    if (ex.method() == verb::put) co_return co_await put_blob(ex, digest);
    if (ex.method() == verb::delete_) co_return co_await delete_blob(ex, digest);
    co_await get_blob(ex, digest);
  };
  return {{
              {"/health/?", {}, "health", health},
              {"/metrics/?", {}, "metrics", metrics_route},
              {"/cluster/?", {verb::get, verb::head}, "cluster", cluster_route},
              {"/v2", {}, "registry", registry_route},
              {"/v2/*", {}, "registry", registry_route},
              {"/blobs/*/metainfo", {verb::get, verb::head}, "blobs",
               [this](http::Exchange& ex, std::string_view d) { return get_metainfo(ex, d); }},
              {"/blobs/*/swarm", {verb::get}, "blobs",
               [this](http::Exchange& ex, std::string_view d) { return get_swarm(ex, d); }},
              {"/blobs/*/locations", {verb::get, verb::head}, "blobs",
               [this](http::Exchange& ex, std::string_view d) { return get_locations(ex, d); }},
              {"/blobs/*/status", {verb::get}, "blobs",
               [this](http::Exchange& ex, std::string_view d) { return get_status(ex, d); }},
              {"/blobs/*/handout", {verb::get}, "handout",
               [this](http::Exchange& ex, std::string_view d) { return get_handout(ex, d); }},
              {"/blobs/+", {verb::get, verb::head, verb::put, verb::delete_}, "blobs", blob},
              {"/gc/roots", {verb::get}, "gc",
               [this](http::Exchange& ex, std::string_view) { return gc_roots(ex); }},
              {"/gc/?", {verb::post}, "gc",
               [this](http::Exchange& ex, std::string_view) { return gc_route(ex); }},
              {"/deletions/?", {verb::get}, "deletions",
               [this](http::Exchange& ex, std::string_view) { return get_deletions(ex); }},
              {"/uploads/?", {}, "uploads", uploads_route},
              {"/uploads/*", {}, "uploads", uploads_route},
              {"/tags/+", {}, "tags",
               [this](http::Exchange& ex, std::string_view name) { return tags(ex, name); }},
          },
          Unmatched::by_segment};
}

awaitable<void> Origin::handle(http::Exchange& ex) {
  auto start = std::chrono::steady_clock::now();
  if (http::split_route(ex.path()).first == "v2") ex.set_error_renderer(&oci::error_json);
  std::string_view label = routes_.label(ex.path());
  bool allowed = co_await authorize(ex);
  if (allowed) label = co_await routes_.serve(ex);
  // Every pulling agent asks for the hand-out about once a second: debug level keeps
  // info logs readable (and their cost off the control plane's busiest route).
  recorder_.record(ex, label, start, label == "handout" ? log::Level::debug : log::Level::info);
}

awaitable<bool> Origin::authorize(http::Exchange& ex) {
  // Registry clients learn whether and how to authenticate from the /v2/ ping alone:
  // with tokens configured, the ping needs one too.
  const bool ping = opts_.auth.enabled() && (ex.path() == "/v2/" || ex.path() == "/v2");
  if (!is_write(ex.method()) && !opts_.auth_reads && !ping) co_return true;
  if (ex.path() == "/health" || ex.path() == "/cluster") co_return true;
  switch (opts_.auth.check(ex.header(bhttp::field::authorization))) {
    case TokenAuth::Verdict::allowed: co_return true;
    case TokenAuth::Verdict::missing: {
      http::Head head;
      head.result(status::unauthorized);
      // Registry clients that see a Bearer challenge go looking for a token service;
      // with Basic they send the token as the password (docker login, --creds).
      head.set(bhttp::field::www_authenticate,
               ex.path().starts_with("/v2") ? "Basic realm=\"shoal\"" : "Bearer realm=\"shoal\"");
      head.set(bhttp::field::content_type, "application/json");
      co_await ex.respond(std::move(head),
                          ex.error_body("UNAUTHORIZED", "this request needs an Authorization: "
                                                           "Bearer <token> header"));
      co_return false;
    }
    case TokenAuth::Verdict::wrong:
      co_await ex.respond_error(status::forbidden, "FORBIDDEN", "the bearer token is not accepted");
      co_return false;
  }
  co_return false;
}

void Origin::register_ring_metrics() {
  copied_bytes_ = &metrics_.counter("shoal_origin_copied_bytes_total",
                                    "Blob bytes this origin sent to other origins of the ring "
                                    "(push copies, queued copies, repair).");
  copy_failures_ = &metrics_.counter("shoal_origin_copy_failures_total",
                                     "Copies to another origin that failed (retried later).");
  dropped_copies_ = &metrics_.counter("shoal_origin_dropped_copies_total",
                                      "Blobs removed here because their owners hold them.");
  repair_passes_ = &metrics_.counter("shoal_origin_repair_passes_total",
                                     "Walks over the stored blobs checking their copies.");
  metrics_.gauge_fn("shoal_origin_copy_backlog", "Copies to other origins still owed.",
                    [this] { return static_cast<double>(copies_.size()); });
  metrics_.gauge_fn("shoal_origin_copy_oldest_seconds", "Age of the oldest copy still owed.",
                    [this] { return copies_.oldest(SteadyClock::now()).count() / 1000.0; });
  metrics_.gauge_fn("shoal_origin_under_replicated_blobs",
                    "Blobs held here that lacked a copy on an owner at the last repair pass.",
                    [this] { return static_cast<double>(under_replicated_.load()); });
  metrics_.gauge_fn("shoal_origin_ring_members", "Members of the ring, this origin included.",
                    [this] { return static_cast<double>(cluster_.members().size()); });
  metrics_.gauge_fn("shoal_origin_ring_members_down", "Members this origin sees as down.", [this] {
    size_t down = 0;
    for (const auto& m : cluster_.status(SteadyClock::now())) down += m.up ? 0 : 1;
    return static_cast<double>(down);
  });
  metrics_.gauge_fn("shoal_origin_ring_mismatches",
                    "Members whose list of origins differs from this origin's.",
                    [this] { return static_cast<double>(cluster_.mismatches()); });
}

void Origin::sweep_uploads() {
  if (size_t n = uploads_.sweep(Clock::now()); n > 0) {
    log::info("expired idle upload sessions", {{"count", n}});
  }
}

void Origin::seed_later(const Digest& d) {
  if (!seeder_) return;
  asio::post(background_, [this, d] {
    auto metainfo = metainfo_->get_or_make(d);
    Result<void> ok = metainfo ? seeder_->add(d, store_->path_of(d), *metainfo) : metainfo.error();
    if (!ok) log::warn("cannot seed blob", {{"digest", d.str()}, {"error", ok.error().message}});
  });
}

void Origin::seed_all() {
  if (!seeder_) return;
  for (const Digest& d : store_->list()) seed_later(d);
}

}  // namespace shoal::origin
