// The write path of a ring: a blob committed here is copied to its owners before the
// push is acknowledged, until write_quorum owners hold it durably; the owners that
// are down or slow get it later from the persisted queue (replica_queue.h).
#include <thread>

#include "core/file_io.h"
#include "core/log.h"
#include "http/outbound.h"
#include "origin/origin.h"

namespace shoal::origin {
namespace {

constexpr char kReplicaHeader[] = "Shoal-Replica";
// Background copies running at once; a push's own copies do not count against it.
constexpr size_t kMaxBackgroundCopies = 4;

// What the copies of one push report back to the coroutine waiting for its quorum.
struct QuorumWait {
  std::mutex mu;
  size_t ok = 0, finished = 0;
  std::vector<std::string> failures;
  ChangeSignal changed;
};

std::string owners_text(const std::vector<Owner>& owners) {
  std::string out;
  for (const Owner& o : owners) {
    out += (out.empty() ? "" : ", ") + o.url.str() + (o.self ? " (self)" : o.up ? "" : " (down)");
  }
  return out;
}

}  // namespace

void Origin::post_ring(std::function<void()> fn) {
  {
    std::lock_guard lock(ring_work_mu_);
    ++ring_work_;
  }
  http::post_outbound([this, fn = std::move(fn)] {
    if (!stopping_.load()) fn();
    std::lock_guard lock(ring_work_mu_);
    // Under the lock: the destructor may free the origin as soon as it sees zero.
    if (--ring_work_ == 0) ring_work_done_.notify_all();
  });
}

Origin::~Origin() { stop_ring_work(); }

void Origin::stop_ring_work() {
  stopping_.store(true);
  std::unique_lock lock(ring_work_mu_);
  ring_work_done_.wait(lock, [this] { return ring_work_ == 0; });
}

bool Origin::is_replica_write(const http::Exchange& ex) {
  return !ex.request()[kReplicaHeader].empty();
}

http::Headers Origin::peer_headers() const {
  // Marks the request as one origin's to another: a PUT is a copy (not replicated
  // again), a GET or HEAD asks for this origin's own copy (never proxied onwards).
  http::Headers h{{kReplicaHeader, "1"}};
  if (!opts_.auth.own_token().empty()) {
    h.emplace_back("Authorization", "Bearer " + opts_.auth.own_token());
  }
  return h;
}

http::ClientOptions Origin::peer_client_options() const {
  http::ClientOptions o;
  o.connect_timeout = std::chrono::milliseconds(2'000);
  o.io_timeout = std::chrono::milliseconds(30'000);
  o.user_agent = "shoal-origin";
  return o;
}

Result<void> Origin::quorum_possible(const http::Exchange& ex, const Digest* d) const {
  if (!cluster_.enabled() || is_replica_write(ex)) return {};
  const auto now = SteadyClock::now();
  const size_t need = cluster_.write_quorum();
  size_t up = 0;
  std::string owners;
  if (d) {
    auto list = cluster_.owners(blob_key(d->str()), now);
    for (const Owner& o : list) up += o.up ? 1 : 0;
    owners = owners_text(list);
  } else {
    // The digest of a resumable upload is known only at its end: any up origins may own it.
    for (const auto& m : cluster_.status(now)) up += m.up ? 1 : 0;
    owners = "any " + std::to_string(cluster_.replicas()) + " of the ring";
  }
  if (up >= need) return {};
  return Error(Errc::no_quorum, "write quorum not reached: " + std::to_string(up) + " of the " +
                                    std::to_string(need) + " owners needed are up (" + owners +
                                    ")");
}

Result<void> Origin::copy_blob(const CopyJob& job, bool paced) {
  auto blob = store_->open_blob(job.digest);
  if (!blob) return blob.error();
  const std::string path = "/blobs/" + job.digest.str();
  http::Client client(job.target, peer_client_options());
  auto held = client.request("HEAD", path, peer_headers());
  if (held && held->status == 200) return {};  // idempotent: a copy is never sent twice
  uint64_t at = 0;
  const int fd = blob->fd.get();
  http::BodySource source = [&](char* buf, size_t len) -> Result<size_t> {
    if (paced) {
      std::unique_lock lock(pace_mu_);
      auto now = SteadyClock::now();
      auto wait = pace_.retry_after(static_cast<double>(len), now);
      pace_.take(static_cast<double>(len), now);
      lock.unlock();
      if (wait.count() > 0 && wait != std::chrono::milliseconds::max()) {
        std::this_thread::sleep_for(wait);
      }
    }
    if (stopping_.load()) return Error(Errc::cancelled, "the origin is stopping");
    auto n = pread_some(fd, buf, len, at);
    if (!n) return n;
    if (*n == 0) return Error(Errc::io_error, "blob " + job.digest.str() + " shrank while copied");
    at += *n;
    copied_bytes_->inc(static_cast<double>(*n));
    return n;
  };
  http::Headers h = peer_headers();
  h.emplace_back("Content-Type", "application/octet-stream");
  auto r = client.upload("PUT", path, h, blob->size, source);
  if (!r) return r.error();
  if (!r->success()) {
    return Error(http::errc_for_status(r->status), job.target.str() + ": " +
                                                       http::describe_failure(*r));
  }
  return {};
}

void Origin::run_copy(const CopyJob& job, bool paced, std::function<void(bool ok)> after) {
  post_ring([this, job, paced, after = std::move(after)] {
    auto ok = copy_blob(job, paced);
    const auto now = SteadyClock::now();
    if (ok || ok.error().is(Errc::not_found)) {
      copies_.done(job);  // held there now, or we no longer have anything to send
    } else {
      copy_failures_->inc();
      copies_.failed(job, now);
      if (ok.error().is(Errc::unavailable) || ok.error().is(Errc::timed_out)) {
        cluster_.report_failure(job.target, now);
      }
      log::warn("copy to an owner failed", {{"digest", job.digest.str()},
                                            {"target", job.target.str()},
                                            {"error", ok.error().message}});
    }
    if (after) after(ok.ok());
  });
}

awaitable<Result<void>> Origin::replicate(const http::Exchange& ex, const Digest& d,
                                          std::optional<Url> holder) {
  if (!cluster_.enabled() || is_replica_write(ex)) co_return Result<void>{};
  const auto now = SteadyClock::now();
  const auto owners = cluster_.owners(blob_key(d.str()), now);
  size_t held = 0;
  std::vector<CopyJob> candidates;  // up owners to copy to, in ring order
  for (const Owner& o : owners) {
    if (o.self || (holder && holder->str() == o.url.str())) {
      ++held;  // this origin, or the upload's mirror that committed its own copy
      continue;
    }
    CopyJob job{d, o.url};
    // Queued (durably) before anything is sent: a crash from here on loses no copy. The
    // jobs of up owners are taken at once, so the background pump cannot start them
    // between here and their launch (its copies would not count toward the quorum).
    auto queue = [&] { return copies_.add(job, now, o.up); };
    auto queued = co_await http::offload(queue);
    if (queued) {
      if (o.up) candidates.push_back(job);
    } else if (!queued.error().is(Errc::conflict)) {  // conflict: already being copied
      co_return queued.error();
    }
  }
  // Candidates not launched go back to the pump however this ends.
  size_t next = 0;
  const auto give_back = std::shared_ptr<void>(nullptr, [&](void*) {
    for (size_t i = next; i < candidates.size(); ++i) copies_.release(candidates[i]);
  });
  const size_t need = cluster_.write_quorum();
  auto wait = std::make_shared<QuorumWait>();
  size_t launched = 0;
  // Only as many copies as the quorum lacks run before the answer, more when one
  // fails; the others stay queued for pump_copies, so the client does not wait for them.
  for (;;) {
    uint64_t seen = wait->changed.version();
    size_t ok = 0, finished = 0;
    {
      std::lock_guard lock(wait->mu);
      ok = wait->ok;
      finished = wait->finished;
    }
    if (held + ok >= need) co_return Result<void>{};
    while (held + ok + (launched - finished) < need && next < candidates.size()) {
      const CopyJob& job = candidates[next++];
      ++launched;
      run_copy(job, false, [wait](bool copied) {
        {
          std::lock_guard lock(wait->mu);
          ++wait->finished;
          wait->ok += copied ? 1 : 0;
        }
        wait->changed.notify();
      });
    }
    if (launched == finished && next == candidates.size()) break;
    co_await wait->changed.wait(seen, std::chrono::milliseconds(1'000));
  }
  size_t have = held + wait->ok;
  co_return Error(Errc::no_quorum,
                  "write quorum not reached: " + std::to_string(have) + " of the " +
                      std::to_string(need) + " copies needed of " + d.str() +
                      " are durable (owners: " + owners_text(owners) +
                      "); the missing copies stay queued");
}

void Origin::pump_copies() {
  if (!cluster_.enabled()) return;
  while (copies_.running() < kMaxBackgroundCopies) {
    auto job = copies_.next(SteadyClock::now());
    if (!job) return;
    run_copy(*job, true, {});
  }
}

Result<std::string> Origin::from_owners(const Digest& d, const std::string& path) {
  if (!cluster_.enabled()) return Error(Errc::not_found, "no blob " + d.str());
  Error last(Errc::not_found, "no origin of the ring holds " + d.str());
  for (const Owner& o : cluster_.order(blob_key(d.str()), SteadyClock::now())) {
    if (o.self || !o.up) continue;
    http::Client client(o.url, peer_client_options());
    auto r = client.request("GET", path, peer_headers());
    if (r && r->success()) return std::move(r->body);
    if (r && r->status == 404) continue;
    cluster_.report_failure(o.url, SteadyClock::now());
    last = r ? Error(http::errc_for_status(r->status), o.url.str() + ": " +
                                                          http::describe_failure(*r))
             : r.error();
  }
  return last;
}

Result<bool> Origin::delete_in_ring(const Digest& d) {
  bool any = false;
  for (const Owner& o : cluster_.order(blob_key(d.str()), SteadyClock::now())) {
    if (o.self) continue;
    http::Client client(o.url, peer_client_options());
    auto r = client.request("DELETE", "/blobs/" + d.str(), peer_headers());
    if (r && (r->success() || r->status == 404)) {
      any |= r->success();
      continue;
    }
    // A copy left on an origin that is down would come back with the repair walk.
    return Error(Errc::no_quorum, "cannot delete " + d.str() + " on " + o.url.str() + ": " +
                                      (r ? http::describe_failure(*r) : r.error().message));
  }
  return any;
}

awaitable<bool> Origin::ring_holds(const Digest& d) {
  if (store_->contains(d)) co_return true;
  if (!cluster_.enabled()) co_return false;
  const auto owners = cluster_.order(blob_key(d.str()), SteadyClock::now());
  auto ask = [&] {
    for (const Owner& o : owners) {
      if (o.self || !o.up) continue;
      http::Client client(o.url, peer_client_options());
      auto r = client.request("HEAD", "/blobs/" + d.str(), peer_headers());
      if (r && r->status == 200) return true;
    }
    return false;
  };
  co_return co_await http::outbound(ask);
}

}  // namespace shoal::origin
