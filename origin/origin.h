// The origin: durable store of blobs and tags behind the HTTP API of docs/API.md.
// Origin owns the stores and metrics and is the request handler given to the server.
#pragma once

#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/store/blob_store.h"
#include "core/change_signal.h"
#include "http/server.h"
#include "core/metrics.h"
#include "http/request_recorder.h"
#include "http/routes.h"
#include "origin/auth.h"
#include "origin/cluster.h"
#include "origin/handout_ledger.h"
#include "origin/metainfo_store.h"
#include "origin/repo_index.h"
#include "origin/seeder.h"
#include "origin/tag_store.h"
#include "origin/upload_session.h"

namespace shoal::origin {

struct OriginOptions {
  std::filesystem::path data_dir;
  uint64_t max_upload_size = 64ull << 30;
  std::chrono::milliseconds upload_idle_timeout{3'600'000};
  TokenAuth auth;
  bool auth_reads = false;
  // With trackers, every blob is seeded into the swarm (see Seeder).
  std::vector<std::string> trackers;
  std::string bt_listen = "127.0.0.1:0";
  bool super_seeding = false;
  uint32_t piece_size = 0;  // of new metainfo; 0: chosen by blob size
  ClusterOptions cluster;   // the ring; without origins, a ring of one
};

class Origin {
 public:
  // Opens or creates the data directory; throws std::runtime_error at start-up.
  explicit Origin(OriginOptions opts);

  awaitable<void> handle(http::Exchange& ex);
  // Removes upload sessions idle past upload_idle_timeout (call periodically).
  void sweep_uploads();
  metrics::Registry& metrics() { return metrics_; }
  BlobStore& store() { return *store_; }
  Seeder* seeder() { return seeder_.get(); }
  Cluster& cluster() { return cluster_; }
  // Makes the metainfo of a committed blob and seeds it, on the blocking pool.
  void seed_later(const Digest& d);
  // Seeds every stored blob (at start-up); existing metainfo is not re-hashed.
  void seed_all();

 private:
  http::Routes<> make_routes();
  // Answers 401/403 itself and returns false when the request may not proceed.
  awaitable<bool> authorize(http::Exchange& ex);

  awaitable<void> put_blob(http::Exchange& ex, std::string_view digest_text);
  awaitable<void> get_blob(http::Exchange& ex, std::string_view digest_text);
  awaitable<void> delete_blob(http::Exchange& ex, std::string_view digest_text);
  awaitable<void> get_metainfo(http::Exchange& ex, std::string_view digest_text);
  awaitable<void> get_swarm(http::Exchange& ex, std::string_view digest_text);
  awaitable<void> get_handout(http::Exchange& ex, std::string_view digest_text);
  awaitable<void> uploads(http::Exchange& ex, std::string_view rest);
  awaitable<void> upload_create(http::Exchange& ex);
  awaitable<void> upload_status(http::Exchange& ex, const std::string& id);
  awaitable<void> upload_patch(http::Exchange& ex, const std::string& id, bool commit);
  awaitable<void> upload_range_error(http::Exchange& ex, const std::string& id,
                                     const std::string& message);
  awaitable<void> tags(http::Exchange& ex, std::string_view name);
  // Appends the request body to upload `id` where its Content-Range says and, given
  // a digest, verifies and stores the whole upload under it: the session's offset
  // after the chunk. Errc::range_not_satisfiable for a chunk not at the offset.
  awaitable<Result<uint64_t>> receive_chunk(http::Exchange& ex, const std::string& id,
                                            const std::optional<Digest>& digest);
  static Result<Digest> commit_digest(const http::Exchange& ex);  // ?digest=

  // OCI Distribution push side (and reads), /v2/...: origin_registry*.cc.
  awaitable<void> registry(http::Exchange& ex);
  awaitable<void> manifests(http::Exchange& ex, std::string_view name, std::string_view ref);
  awaitable<void> get_manifest(http::Exchange& ex, std::string_view name, std::string_view ref);
  awaitable<void> put_manifest(http::Exchange& ex, std::string_view name, std::string_view ref);
  Result<Digest> resolve_manifest(std::string_view name, std::string_view ref) const;
  awaitable<void> tag_list(http::Exchange& ex, std::string_view name);
  awaitable<void> registry_upload_start(http::Exchange& ex, std::string_view name);
  awaitable<void> registry_upload(http::Exchange& ex, std::string_view name, std::string_view id);
  awaitable<void> registry_chunk(http::Exchange& ex, std::string_view name, const std::string& id,
                                 bool commit);

  OriginOptions opts_;
  Cluster cluster_;
  std::unique_ptr<BlobStore> store_;
  TagStore tags_;
  RepoIndex repos_;
  std::unique_ptr<MetainfoStore> metainfo_;
  std::unique_ptr<Seeder> seeder_;
  // Per blob, who was handed which piece (GET /blobs/<digest>/handout).
  struct Handout {
    Handout(HandoutLedger l, uint64_t s, uint32_t ps)
        : ledger(std::move(l)), size(s), piece_size(ps) {}
    HandoutLedger ledger;
    uint64_t size = 0;
    uint32_t piece_size = 0;
    uint32_t sending = 0;     // pieces on their way now (under handout_mu_)
    ChangeSignal slot_freed;  // one of them is done
  };
  // Takes one of the blob's sending slots, waiting for one to free up.
  awaitable<void> take_handout_slot(Handout& h);
  void release_handout_slot(Handout& h);
  // Blocking (may make the metainfo): call through http::offload.
  Result<Handout*> handout_of(const Digest& d);
  Result<Handout*> known_handout(const Digest& d);  // Errc::not_found before the first
  std::mutex handout_mu_;
  std::map<Digest, Handout> handouts_;
  UploadManager uploads_;
  metrics::Registry metrics_;
  http::RequestRecorder recorder_{metrics_};
  const http::Routes<> routes_ = make_routes();
  metrics::Counter* handout_bytes_ = nullptr;
  std::array<metrics::Counter*, 5> handout_pieces_{};  // by HandoutLedger::Pick::Reason
  // Metainfo hashing and seeding in the background, one blob at a time. Declared last:
  // destroyed first, it finishes the running task and drops the rest while the
  // stores and the seeder it uses still exist.
  asio::thread_pool background_{1};
};

}  // namespace shoal::origin
