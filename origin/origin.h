// The origin: durable store of blobs and tags behind the HTTP API of docs/API.md.
// Origin owns the stores and metrics and is the request handler given to the server.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/store/blob_store.h"
#include "core/change_signal.h"
#include "http/server.h"
#include "core/metrics.h"
#include "core/token_bucket.h"
#include "http/fill.h"
#include "http/request_recorder.h"
#include "http/routes.h"
#include "origin/auth.h"
#include "origin/cluster.h"
#include "origin/deletion_log.h"
#include "origin/disk_budget.h"
#include "origin/gc.h"
#include "origin/handout_ledger.h"
#include "origin/metainfo_store.h"
#include "origin/pull_through.h"
#include "origin/repo_index.h"
#include "origin/replica_queue.h"
#include "origin/seeder.h"
#include "origin/tag_store.h"
#include "origin/upload_session.h"
#include "origin/writeback_queue.h"
#include "storage/backend.h"

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
  // Garbage collection keeps every blob committed or referred to by a push this recently.
  std::chrono::milliseconds gc_grace{3'600'000};
  // Durable storage behind the ring (S3): every blob is written back to it, and blobs
  // missing from the ring are filled from it. Null: the origins' disks only.
  std::shared_ptr<storage::Backend> backend;
  uint64_t cache_size = 0;  // with a backend: disk budget in bytes; 0 = no limit
  unsigned writeback_concurrency = 2;  // blobs written back at once
  // A registry to pull through from on a miss (upstream_registry); null: none.
  std::shared_ptr<storage::RegistryBackend> upstream;
};

class Origin {
 public:
  // Opens or creates the data directory; throws std::runtime_error at start-up.
  explicit Origin(OriginOptions opts);
  // Stops the ring's background work (fills, copies, checks) and waits for it.
  ~Origin();
  // The same, for the server's owner to call before the server goes: a fill may hold
  // timers of the server's io_context (its waiters'), which must end before it does.
  void stop_ring_work();

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
  // --- the ring (origin_cluster.cc, origin_replication.cc, origin_repair.cc) ---
  // Active health checks of the other origins and a re-resolved dns: member list;
  // call every cluster().options().check_interval.
  void check_cluster();
  // Starts queued copies that are due (call periodically).
  void pump_copies();
  // Walks every stored blob: copies it to owners lacking it, drops copies it no
  // longer owns once the owners hold them (call periodically).
  void repair_pass();
  // --- content lifecycle (origin_gc.cc; docs/ARCHITECTURE.md, "Garbage collection") ---
  // Blocking: collects this origin's unreachable blobs, marking with the whole ring's
  // roots. Errc::no_quorum when a member cannot give its roots (nothing is removed).
  Result<GcReport> collect_garbage(bool dry_run);
  // A scheduled collection on the outbound pool, unless one is running.
  void collect_garbage_later();
  // --- the storage backend (origin_backend.cc) ---
  // Starts the write-backs that are due and evicts past cache_size (call periodically).
  void pump_writeback();
  storage::Backend* backend() const { return opts_.backend.get(); }

 private:
  void init_backend();
  // A blob was committed here (pushed, copied, filled): seeds it, queues its
  // write-back, counts it in the disk budget.
  void on_committed(const Digest& d);
  // Blocking, on the outbound pool: HEAD, then (by d's writer only) a PUT.
  void write_back(const Digest& d);
  // The one origin that PUTs d: its first up owner, so the ring writes each blob once.
  bool writes_back(const Digest& d) const;
  // d belongs on this origin's disk: it is one of d's owners, or alone.
  bool owns(const Digest& d) const;
  void evict_over_budget();  // blocking
  // d is gone for good (deleted): no write-back, no marker, not in the budget.
  void forget_blob(const Digest& d);
  Result<uint64_t> size_in_backend(const Digest& d);  // blocking
  http::FillSource backend_source(const Digest& d);
  // Fetches d into this origin's store (an owner lacking it: from the ring or the
  // backend), sharing a fill in progress.
  awaitable<Result<void>> fill_here(const Digest& d);
  awaitable<void> get_status(http::Exchange& ex, std::string_view digest_text);
  std::string status_json(const Digest& d);  // blocking (asks the owners)

  // --- content lifecycle (origin_gc.cc, origin_registry_lifecycle.cc) ---
  struct GcView;  // this origin's store, roots and ring, as gc.h's GcStore
  awaitable<void> gc_route(http::Exchange& ex);
  awaitable<void> gc_roots(http::Exchange& ex);
  awaitable<void> get_deletions(http::Exchange& ex);
  // Whether this origin or the ring holds d, refreshing the copies' modification time so
  // that no running collection removes them: a push is about to refer to d.
  awaitable<bool> hold_for_push(const Digest& d);
  bool touch_blob(const Digest& d);  // false when d is not held here
  // Commits a pushed manifest and touches it, one step against a collection's removal.
  Result<void> commit_touched(TempBlob& temp, const Digest& d);
  // Removes d here and on every other origin (DELETE /blobs, OCI blob delete).
  awaitable<Result<void>> remove_blob(const http::Exchange& ex, const Digest& d);
  awaitable<void> delete_registry_blob(http::Exchange& ex, std::string_view digest_text);
  // d left this store: stop seeding it, log it for agents' caches, drop it from the backend.
  void blob_removed(const std::vector<Digest>& removed);
  void forget_in_backend(const Digest& d);  // blocking: a collected blob
  awaitable<void> delete_manifest(http::Exchange& ex, std::string_view name, std::string_view ref);
  // This origin's part: the marker, the referrer marker and the tags it knows of that
  // point at d. Errc::not_found when it had no marker.
  awaitable<Result<void>> delete_manifest_here(std::string name, Digest d);
  awaitable<void> referrers(http::Exchange& ex, std::string_view name, std::string_view ref);
  // The descriptors (JSON array) of d's referrers in `name` that this origin took.
  awaitable<std::string> referrers_here(std::string name, Digest subject);
  // Blocking: `method` `path` on every other member; their answers (Errc::no_quorum as
  // soon as one cannot answer).
  Result<std::vector<http::Response>> ask_members(const std::string& method,
                                                 const std::string& path);

  http::Routes<> make_routes();
  void register_ring_metrics();
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
  // --- tags in a ring (origin_tag_ring.cc; the protocol is in ring_tags.h) ---
  struct TagRing;  // the write coordinator, shared by every tag request
  static std::shared_ptr<TagRing> make_tag_ring();
  std::shared_ptr<TagRing> tag_ring_ = make_tag_ring();
  awaitable<void> put_tag(http::Exchange& ex, const std::string& name, std::string_view raw);
  awaitable<void> delete_tag(http::Exchange& ex, const std::string& name);
  // The newest copy of tag `name` among its up owners (alone: the local copy).
  awaitable<Result<TagRecord>> read_tag(std::string name);
  // Writes through the tag's first up owner: forwarded there unless it is this origin
  // or `here` (another origin forwarded it to us). Errc::precondition_failed,
  // Errc::not_found deleting no tag, Errc::no_quorum, Errc::conflict (retry).
  awaitable<Result<TagRecord>> write_tag(std::string name, TagChange change, bool here);
  // Another origin asks for this origin's copy (GET) or a compare-and-swap (PUT).
  awaitable<void> tag_replica(http::Exchange& ex, const std::string& name);
  // Manifest d's bytes: this origin's copy, else another origin's (checked against d).
  awaitable<Result<std::string>> manifest_bytes(const Digest& d);
  // --- end of tags in a ring ---
  // --- the ring ---
  awaitable<void> get_cluster(http::Exchange& ex);
  // The origin that runs the hand-out of d when it is not this one: the first up owner.
  std::optional<Url> handout_runner(const Digest& d) const;
  // GET|HEAD of a blob held elsewhere in the ring (origin_fills.cc).
  awaitable<void> serve_from_ring(http::Exchange& ex, const Digest& d);
  std::shared_ptr<http::Fill> join_or_start_fill(const Digest& d);
  Result<uint64_t> size_in_ring(const Digest& d);  // blocking
  void run_fill(std::shared_ptr<http::Fill> fill);
  http::FillSources fill_sources(const Digest& d);
  awaitable<void> get_locations(http::Exchange& ex, std::string_view digest_text);
  // After `d` was committed here by a client's push: copies it to its owners and
  // returns once write_quorum of them hold it durably (Errc::no_quorum if they
  // cannot); the other owners get it from the persisted queue. A no-op for a copy
  // another origin sent (is_replica_write) and for a ring of one.
  // `holder`: another origin known to hold d durably already (an upload's mirror).
  awaitable<Result<void>> replicate(const http::Exchange& ex, const Digest& d,
                                    std::optional<Url> holder = std::nullopt);
  // Errc::no_quorum before any byte is read when too few owners are up to take it.
  Result<void> quorum_possible(const http::Exchange& ex, const Digest* d) const;
  static bool is_replica_write(const http::Exchange& ex);
  // Mirrors of resumable upload sessions (origin_mirror.cc).
  std::optional<Url> mirror_of(const std::string& upload_id) const;
  Result<void> sync_mirror(const std::string& id, uint64_t offset);  // blocking
  void mirror_later(const std::string& id, uint64_t offset);
  // Blocking: the mirror catches up to the whole upload and commits it as d; which
  // origin that is.
  Result<Url> finish_mirror(const std::string& id, uint64_t offset, const Digest& d);
  // Blocking: the first 2xx body of GET `path` from the up origins in d's order
  // (their own copies only); Errc::not_found when none holds d.
  Result<std::string> from_owners(const Digest& d, const std::string& path);
  // Blocking: removes d on every other origin of the ring; true if one held it.
  // Errc::no_quorum when an origin could not be asked (its copy would come back).
  Result<bool> delete_in_ring(const Digest& d);
  // Whether d is held here or by one of its up owners (HEAD, off the event loop).
  awaitable<bool> ring_holds(const Digest& d);
  // Blocking, on an outbound thread: HEAD, then a streamed PUT of our copy.
  Result<void> copy_blob(const CopyJob& job, bool paced);
  void run_copy(const CopyJob& job, bool paced, std::function<void(bool ok)> after);
  http::Headers peer_headers() const;  // what this origin sends to the others
  // Runs fn on the outbound pool, counted so that the destructor can wait for it.
  void post_ring(std::function<void()> fn);
  // Blocking: queues the copies d lacks on its owners; true when every owner holds it.
  bool repair_blob(const Digest& d);
  void drop_copy(const Digest& d);  // d is on its owners and this origin is not one
  http::ClientOptions peer_client_options() const;
  // Appends the request body to upload `id` where its Content-Range says and, given
  // a digest, verifies and stores the whole upload under it: the session's offset
  // after the chunk. Errc::range_not_satisfiable for a chunk not at the offset.
  awaitable<Result<uint64_t>> receive_chunk(http::Exchange& ex, const std::string& id,
                                            const std::optional<Digest>& digest);
  static Result<Digest> commit_digest(const http::Exchange& ex);  // ?digest=

  // --- pull-through from an upstream registry (origin_pull_through.cc) ---
  // Before a manifest or blob read: fetches it upstream when it is missing and its
  // repository matches (`name` empty: the one a pulled manifest named for the blob).
  // An error (a digest mismatch, upstream unreachable with nothing stored) is the answer.
  awaitable<Result<void>> pull_manifest(const http::Exchange& ex, std::string_view name,
                                        std::string_view ref);
  awaitable<Result<void>> pull_blob(const http::Exchange& ex, std::string_view name,
                                    std::string_view digest_text);
  awaitable<Result<void>> keep_pulled_manifest(const http::Exchange& ex, std::string_view name,
                                               const storage::UpstreamManifest& m);
  Result<void> fetch_upstream_blob(const std::string& repository, const Digest& d);  // blocking

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
  std::unique_ptr<PullThrough> pull_ = make_pull_through(opts_.upstream);  // after opts_
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
  ReplicaQueue copies_;
  std::mutex fills_mu_;
  std::map<Digest, std::shared_ptr<http::Fill>> fills_;  // one per digest, shared by waiters
  std::atomic<bool> stopping_{false};
  struct Mirroring {
    std::mutex mu, run;  // mu: the fields; run: held while a transfer runs
    uint64_t want = 0;
    bool queued = false;
  };
  std::mutex mirrors_mu_;
  std::map<std::string, std::shared_ptr<Mirroring>> mirrors_;  // by upload id
  std::mutex ring_work_mu_;
  std::condition_variable ring_work_done_;
  size_t ring_work_ = 0;  // tasks of post_ring not finished yet
  std::mutex pace_mu_;
  TokenBucket pace_;  // repair_rate, shared by every background copy
  metrics::Registry metrics_;
  http::RequestRecorder recorder_{metrics_};
  const http::Routes<> routes_ = make_routes();
  metrics::Counter* handout_bytes_ = nullptr;
  std::array<metrics::Counter*, 5> handout_pieces_{};  // by HandoutLedger::Pick::Reason
  metrics::Counter* copied_bytes_ = nullptr;
  metrics::Counter* copy_failures_ = nullptr;
  metrics::Counter* dropped_copies_ = nullptr;  // blobs removed here once owners held them
  metrics::Counter* repair_passes_ = nullptr;
  std::atomic<bool> repairing_{false};
  std::atomic<size_t> under_replicated_{0};  // at the end of the last repair pass
  std::mutex gc_mu_;  // a collection's check-and-remove against a push's touch
  std::atomic<bool> collecting_{false};
  DeletionLog deletions_{opts_.data_dir / "deletions"};
  metrics::Counter& gc_runs_ =
      metrics_.counter("shoal_origin_gc_runs_total", "Garbage collections run (dry runs too).");
  metrics::Counter& gc_removed_blobs_ = metrics_.counter(
      "shoal_origin_gc_removed_blobs_total", "Blobs garbage collection removed from this origin.");
  metrics::Counter& gc_removed_bytes_ = metrics_.counter(
      "shoal_origin_gc_removed_bytes_total", "Bytes garbage collection removed from this origin.");
  std::unique_ptr<WritebackQueue> writeback_;  // with a backend only
  std::unique_ptr<DiskBudget> budget_;         // with a backend and a cache_size only
  std::atomic<unsigned> writebacks_running_{0};
  std::atomic<bool> evicting_{false};
  metrics::Counter* writeback_bytes_ = nullptr;
  metrics::Counter* writeback_failures_ = nullptr;
  metrics::Counter* evicted_blobs_ = nullptr;
  metrics::Counter* backend_fills_ = nullptr;
  // Metainfo hashing and seeding in the background, one blob at a time. Declared last:
  // destroyed first, it finishes the running task and drops the rest while the
  // stores and the seeder it uses still exist.
  asio::thread_pool background_{1};
};

}  // namespace shoal::origin
