// The storage backend behind the ring (S3): write-back of every committed blob, the
// disk as a cache in front of it (cache_size), fills from it, and where copies are
// (GET /blobs/<digest>/status).
//
// Write-back: each origin holding a blob keeps it pending (WritebackQueue) until a HEAD
// finds it in the backend; only the blob's first up owner PUTs it, so the ring writes
// each blob once. Others wait for that, and write it themselves only when it has been
// pending for kWriterGrace (the writer lost its copy, or the ring changed).
#include <sys/stat.h>

#include "core/log.h"
#include "http/failure.h"
#include "http/outbound.h"
#include "http/util.h"
#include "origin/origin.h"
#include "origin/ring.h"

namespace shoal::origin {
namespace {

constexpr std::chrono::minutes kWriterGrace{2};

std::chrono::milliseconds age_of_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::chrono::milliseconds(0);
  auto mtime = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
  auto age = std::chrono::system_clock::now() - mtime;
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(age));
}

uint64_t size_of_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

void Origin::init_backend() {
  if (!opts_.backend) return;
  writeback_ = std::make_unique<WritebackQueue>(opts_.data_dir / "backend" / "written");
  const std::vector<Digest> stored = store_->list();
  auto age = [this](const Digest& d) { return age_of_file(store_->path_of(d)); };
  if (auto ok = writeback_->init(stored, SteadyClock::now(), age); !ok) {
    throw std::runtime_error(ok.error().message);
  }
  if (opts_.cache_size > 0) {
    budget_ = std::make_unique<DiskBudget>(opts_.cache_size);
    for (const Digest& d : stored) budget_->add(d, size_of_file(store_->path_of(d)));
    metrics_.gauge_fn("shoal_origin_cache_limit_bytes", "cache_size: the disk budget for blobs.",
                      [this] { return static_cast<double>(budget_->limit()); });
  }
  metrics_.gauge_fn("shoal_origin_writeback_pending", "Blobs held here not yet in the backend.",
                    [this] { return static_cast<double>(writeback_->pending()); });
  metrics_.gauge_fn("shoal_origin_writeback_oldest_seconds",
                    "Age of the oldest blob not yet in the backend.", [this] {
                      return writeback_->oldest(SteadyClock::now()).count() / 1000.0;
                    });
  writeback_bytes_ = &metrics_.counter("shoal_origin_writeback_bytes_total",
                                       "Blob bytes this origin wrote to the backend.");
  writeback_failures_ = &metrics_.counter("shoal_origin_writeback_failures_total",
                                          "Write-backs that failed (retried later).");
  evicted_blobs_ = &metrics_.counter("shoal_origin_evicted_blobs_total",
                                     "Blobs removed from disk past cache_size (the backend holds them).");
  backend_fills_ = &metrics_.counter("shoal_origin_backend_fills_total",
                                     "Blobs fetched from the backend because no origin held them.");
  log::info("backend", {{"backend", opts_.backend->describe()},
                        {"pending", writeback_->pending()},
                        {"cache_size", opts_.cache_size}});
}

void Origin::on_committed(const Digest& d) {
  seed_later(d);
  if (writeback_) writeback_->add(d, SteadyClock::now());
  if (budget_) budget_->add(d, size_of_file(store_->path_of(d)));
}

void Origin::forget_blob(const Digest& d) {
  if (writeback_) writeback_->forget(d);
  if (budget_) budget_->erase(d);
}

bool Origin::owns(const Digest& d) const {
  return !cluster_.enabled() || cluster_.is_owner(blob_key(d.str()), SteadyClock::now());
}

bool Origin::writes_back(const Digest& d) const {
  if (!cluster_.enabled()) return true;
  for (const Owner& o : cluster_.owners(blob_key(d.str()), SteadyClock::now())) {
    if (o.up) return o.self;
  }
  return true;  // no owner is up: whoever holds a copy
}

void Origin::pump_writeback() {
  if (!writeback_ || stopping_.load()) return;
  while (writebacks_running_.load() < opts_.writeback_concurrency) {
    auto d = writeback_->next(SteadyClock::now());
    if (!d) break;
    ++writebacks_running_;
    post_ring([this, d = *d] {
      write_back(d);
      --writebacks_running_;
    });
  }
  if (budget_ && budget_->used() > budget_->limit() && !evicting_.exchange(true)) {
    post_ring([this] {
      evict_over_budget();
      evicting_ = false;
    });
  }
}

void Origin::write_back(const Digest& d) {
  auto retry = [&](const Error& e) {
    writeback_failures_->inc();
    log::warn("write-back failed", {{"digest", d.str()}, {"error", e.message}});
    writeback_->later(d, SteadyClock::now(), true);
  };
  auto held = opts_.backend->head(d, "");
  if (!held) return retry(held.error());
  auto blob = store_->open_blob(d);
  if (*held) {
    if (blob && **held != blob->size) {
      // A wrong object under a content address: never trust it as the durable copy.
      log::error("backend object has the wrong size; writing it again",
                 {{"digest", d.str()}, {"backend_size", **held}, {"size", blob->size}});
    } else if (auto ok = writeback_->written(d); !ok) {
      return retry(ok.error());
    } else {
      return;
    }
  }
  if (!blob) {
    // Gone from this origin (deleted, or a copy dropped once its owners held it):
    // whoever holds it now writes it back.
    writeback_->forget(d);
    return;
  }
  if (!writes_back(d) && writeback_->age(d, SteadyClock::now()) < kWriterGrace) {
    writeback_->later(d, SteadyClock::now(), false);
    return;
  }
  auto start = std::chrono::steady_clock::now();
  if (auto put = opts_.backend->put(d, blob->fd.get(), blob->size); !put) return retry(put.error());
  writeback_bytes_->inc(blob->size);
  if (auto ok = writeback_->written(d); !ok) return retry(ok.error());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start);
  log::info("written back", {{"digest", d.str()}, {"size", blob->size}, {"ms", ms.count()}});
}

void Origin::evict_over_budget() {
  // Only what the backend holds may go, and nothing a fill is writing right now.
  auto may_evict = [this](const Digest& d) { return writeback_->is_written(d); };
  for (const Digest& d : budget_->victims(may_evict)) {
    if (stopping_.load()) return;
    if (auto removed = store_->remove(d); !removed && !removed.error().is(Errc::not_found)) {
      log::warn("cannot evict", {{"digest", d.str()}, {"error", removed.error().message}});
      continue;
    }
    if (seeder_) seeder_->remove(d);
    budget_->erase(d);
    evicted_blobs_->inc();
    log::info("evicted", {{"digest", d.str()}, {"used", budget_->used()}});
  }
}

Result<uint64_t> Origin::size_in_backend(const Digest& d) {
  if (!opts_.backend) return Error(Errc::not_found, "no origin of the ring holds " + d.str());
  auto held = opts_.backend->head(d, "");
  if (!held) return held.error();
  if (!*held) return Error(Errc::not_found, "neither the ring nor the backend holds " + d.str());
  return **held;
}

http::FillSource Origin::backend_source(const Digest& d) {
  http::FillSource s;
  s.name = "backend";
  s.fetch = [this, d](uint64_t from, const http::SizeHook& on_size,
                      const http::BodySink& sink) -> Result<void> {
    auto size = size_in_backend(d);
    if (!size) return size.error();
    if (auto ok = on_size(*size); !ok) return ok;
    // The backend streams from the first byte: a resumed fill skips what it has.
    uint64_t skip = from;
    auto tail = [&](const char* p, size_t n) -> Result<void> {
      size_t drop = static_cast<size_t>(std::min<uint64_t>(skip, n));
      skip -= drop;
      return drop == n ? Result<void>{} : sink(p + drop, n - drop);
    };
    auto got = opts_.backend->get(d, "", tail);
    if (!got) return got.error();
    return {};
  };
  return s;
}

awaitable<Result<void>> Origin::fill_here(const Digest& d) {
  auto fill = join_or_start_fill(d);
  if (!fill) co_return Error(Errc::unavailable, "cannot start fetching " + d.str());
  for (;;) {
    const uint64_t seen = fill->changed().version();
    const auto state = fill->state();
    if (state == http::Fill::State::failed) co_return *fill->error();
    if (state == http::Fill::State::complete) {
      if (store_->contains(d)) co_return Result<void>{};
      co_return Error(Errc::not_found, d.str() + " was fetched but not kept here");
    }
    co_await fill->changed().wait(seen, std::chrono::seconds(1));
  }
}

awaitable<void> Origin::get_status(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await http::respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  auto make = [&] { return status_json(*d); };
  std::string json = co_await http::outbound(make);
  co_await ex.respond_json(bhttp::status::ok, json);
}

std::string Origin::status_json(const Digest& d) {
  auto quoted = [](const std::string& s) { return "\"" + s + "\""; };
  const bool here = store_->contains(d);
  std::vector<Owner> order = cluster_.owners(blob_key(d.str()), SteadyClock::now());
  if (!cluster_.enabled()) order = {Owner{.url = cluster_.self(), .self = true}};
  std::string owners;
  for (const Owner& o : order) {
    bool holds = o.self && here;
    if (!o.self && o.up) {
      http::Client client(o.url, peer_client_options());
      auto r = client.request("HEAD", "/blobs/" + d.str(), peer_headers());
      holds = r && r->status == 200;
    }
    std::string url = o.self && !cluster_.enabled() ? "self" : o.url.str();
    owners += std::string(owners.empty() ? "" : ",") + "{\"url\":" + quoted(url) +
              ",\"up\":" + (o.up ? "true" : "false") + ",\"holds\":" + (holds ? "true" : "false") +
              "}";
  }
  std::string backend = "null";
  if (opts_.backend) {
    std::string state = writeback_->is_pending(d) ? "pending" : "absent";
    if (writeback_->is_written(d)) {
      state = "written";
    } else if (!writeback_->is_pending(d)) {
      auto held = opts_.backend->head(d, "");
      state = !held ? "unknown" : *held ? "written" : "absent";
    }
    backend = "{\"location\":" + quoted(opts_.backend->describe()) + ",\"state\":" + quoted(state) +
              "}";
  }
  return "{\"digest\":" + quoted(d.str()) + ",\"here\":" + (here ? "true" : "false") +
         ",\"owners\":[" + owners + "],\"backend\":" + backend + "}";
}

}  // namespace shoal::origin
