// Downloads: from the first request for a digest to a verified blob in the store.
#include <sys/stat.h>

#include "core/file_io.h"
#include "core/log.h"
#include "http/offload.h"
#include "http/outbound.h"
#include "peer/peer_agent.h"

namespace shoal::peer {
namespace {
namespace fs = std::filesystem;
using Kind = SwarmEvent::Kind;
}  // namespace

std::shared_ptr<Download> PeerAgent::inflight(const Digest& d) {
  std::lock_guard lock(mu_);
  auto it = inflight_.find(d);
  return it == inflight_.end() ? nullptr : it->second;
}

std::shared_ptr<Download> PeerAgent::fetch(const Digest& d, bool reader) {
  std::shared_ptr<Download> dl;
  {
    std::lock_guard lock(mu_);
    if (auto it = inflight_.find(d); it != inflight_.end()) return it->second;
    if (cache_.contains(d)) return nullptr;
    dl = std::make_shared<Download>(d);
    inflight_[d] = dl;
  }
  // The metainfo request goes upstream: the outbound pool, not the disk pool, so a silent
  // tracker or origin cannot hold the threads that commit. The guard on the disk pool
  // keeps the server's shutdown (which joins that pool) waiting for it.
  asio::post(http::outbound_pool(),
             [this, dl, reader, guard = asio::make_work_guard(http::blocking_pool())] {
               resolve(dl, reader);
             });
  return dl;
}

// Blocking: metainfo from the tracker or origin, room in the budget, then the swarm.
void PeerAgent::resolve(const std::shared_ptr<Download>& dl, bool reader) {
  const Digest& d = dl->digest();
  auto metainfo = upstream_.metainfo(d);
  if (!metainfo) return abandon(dl, metainfo.error());
  auto parsed = parse_and_bind(*metainfo, d);
  if (!parsed) return abandon(dl, parsed.error());
  uint64_t reserve = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& [digest, other] : inflight_) reserve += other->size();
  }
  evict(Clock::now(), reserve + parsed->size);
  dl->resolved(*parsed, *metainfo, incoming_dir() + "/" + d.hex());
  if (auto ok = swarm_->download(d, *metainfo, incoming_dir()); !ok) return abandon(dl, ok.error());
  start_handout(d, *parsed);
  // Before any peer connects, so the first requests go to the reader's first pieces.
  if (reader && opts_.readahead_pieces > 0)
    swarm_->prioritize(d, PieceIndex{0}, opts_.readahead_pieces);
  log::info("download started",
            {{"digest", d.str()}, {"size", parsed->size}, {"pieces", parsed->piece_count}});
}

void PeerAgent::start_handout(const Digest& d, const ParsedMetainfo& m) {
  if (opts_.handout_window == 0) return;
  auto h = std::make_unique<HandoutFetcher>(*swarm_, origins_, d,
                                            HandoutGeometry{m.size, m.piece_size, m.piece_count},
                                            opts_.handout_window, agent_id_);
  std::lock_guard lock(mu_);
  handouts_[d] = std::move(h);
}

// Not joined here (this runs on the swarm's event thread, and a hand-out request may
// take a while to return): housekeeping() reaps it once its threads are done.
void PeerAgent::stop_handout(const Digest& d) {
  std::lock_guard lock(mu_);
  auto it = handouts_.find(d);
  if (it == handouts_.end()) return;
  it->second->stop();
  ended_handouts_.push_back(std::move(it->second));
  handouts_.erase(it);
}

void PeerAgent::on_swarm_event(const SwarmEvent& e) {
  auto dl = inflight(e.digest);
  if (!dl) {
    if (e.kind == Kind::failed)
      log::warn("seeding failed", {{"digest", e.digest.str()}, {"error", e.message}});
    return;
  }
  switch (e.kind) {
    case Kind::finished:
      stop_handout(e.digest);
      // A fence behind every write: should an event about a piece have been lost, the
      // flushed event still makes every piece readable (PieceTracker::all_flushed).
      swarm_->flush(e.digest);
      return;
    case Kind::moved: return finish(dl);
    case Kind::failed: return abandon(dl, Error(Errc::io_error, e.message));
    default: break;
  }
  switch (dl->apply(e)) {
    case Download::Hashed::pending: return;
    case Download::Hashed::mismatch:
      return abandon(dl, dl->error().value_or(Error(Errc::digest_mismatch, "")));
    case Download::Hashed::verified: break;
  }
  UniqueFd fd(::open(dl->file_path().c_str(), O_RDONLY | O_CLOEXEC));
  if (auto ok = fd.valid() ? fsync_fd(fd.get(), dl->file_path()) : errno_error(errno, "opening");
      !ok) {
    return abandon(dl, ok.error());
  }
  std::string dir = fs::path(store_->path_of(e.digest)).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  swarm_->move(e.digest, dir);
}

// The verified file is in the store: record its metainfo for re-seeding and cache it.
void PeerAgent::finish(const std::shared_ptr<Download>& dl) {
  const Digest& d = dl->digest();
  std::string mpath = metainfo_path(d);
  std::error_code ec;
  fs::create_directories(fs::path(mpath).parent_path(), ec);
  Result<void> ok = store_->moved_in(d);
  if (ok) ok = write_file_atomic(mpath, dl->metainfo());
  if (!ok) {
    log::error("cannot record a finished download",
               {{"digest", d.str()}, {"error", ok.error().message}});
  }
  {
    std::lock_guard lock(mu_);
    cache_.insert(d, dl->size(), Clock::now());
    inflight_.erase(d);
  }
  dl->complete();
  log::info("download complete", {{"digest", d.str()}, {"size", dl->size()}});
}

void PeerAgent::abandon(const std::shared_ptr<Download>& dl, Error why) {
  const Digest& d = dl->digest();
  log::warn("download failed", {{"digest", d.str()}, {"error", why.message}});
  failures_.inc();
  bool was_resolved = dl->state() != Download::State::resolving;
  dl->fail(std::move(why));
  {
    std::lock_guard lock(mu_);
    auto it = inflight_.find(d);
    if (it != inflight_.end() && it->second == dl) inflight_.erase(it);
  }
  stop_handout(d);
  swarm_->remove(d);
  if (was_resolved) ::unlink(dl->file_path().c_str());
}

}  // namespace shoal::peer
