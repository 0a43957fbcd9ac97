// GET/HEAD /blobs/<digest>: the RAM tier, the disk tier, or a fill (joined or new).

#include "http/blob_response.h"
#include "core/file_io.h"
#include "http/failure.h"
#include "http/fill_response.h"
#include "http/outbound.h"
#include "http/util.h"
#include "core/log.h"
#include "edge/edge.h"
#include "edge/edge_counters.h"

namespace shoal::edge {
namespace {

using bhttp::field;
using bhttp::status;
using http::Fill;

// FillSource names: the edge counts fills by where they came from.
const std::string kPeerSource = "peer";
const std::string kOriginSource = "origin";

http::Head edge_head(const Digest& d, std::string_view x_cache, std::string_view type) {
  http::Head head = http::blob_head(d);
  head.set("X-Cache", std::string(x_cache));
  if (!type.empty()) head.set(field::content_type, std::string(type));
  return head;
}

void set_age(http::Head& head, WallClock::time_point cached_at) {
  auto age = std::chrono::duration_cast<std::chrono::seconds>(WallClock::now() - cached_at);
  head.set(field::age, std::to_string(std::max<int64_t>(0, age.count())));
}

// The whole of a small cached file, to serve and keep in RAM.
Result<std::string> read_all(int fd, uint64_t size) {
  std::string bytes(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    auto n = pread_some(fd, bytes.data() + done, size - done, done);
    if (!n) return n.error();
    if (*n == 0) return Error(Errc::io_error, "cached file shorter than its size");
    done += *n;
  }
  return bytes;
}

}  // namespace

awaitable<void> Edge::get_blob(http::Exchange& ex, std::string_view digest_text,
                               CacheStatus& cache, std::string_view type) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await http::respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  // Twice: an object can leave the tiers between a lookup and the fill's start.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool served = co_await serve_ram(ex, *d, type);
    if (!served) served = co_await serve_disk(ex, *d, type);
    if (served) {
      cache = CacheStatus::hit;
      co_return;
    }
    bool collapsed = false;
    bool busy = false;
    auto fill = join_or_start(*d, collapsed, busy);
    if (busy) {
      counters_->fills_busy.inc();
      http::Head head;
      head.result(status::service_unavailable);
      head.set(field::retry_after, "1");
      head.set(field::content_type, "application/json");
      co_return co_await ex.respond(std::move(head),
                                    http::error_json("BUSY", "too many cache fills under way"));
    }
    if (!fill) continue;
    cache = collapsed ? CacheStatus::collapsed : CacheStatus::miss;
    (collapsed ? counters_->collapsed : counters_->misses).inc();
    co_return co_await serve_fill(ex, std::move(fill), cache, type);
  }
  co_await ex.respond_error(status::service_unavailable, "UNAVAILABLE", "the object moved; retry");
}

awaitable<bool> Edge::serve_ram(http::Exchange& ex, const Digest& d, std::string_view type) {
  auto object = ram_.get(d);
  if (!object) co_return false;
  counters_->hit_ram.inc();
  co_await send_bytes(ex, edge_head(d, "HIT", type), d, std::move(object->bytes),
                      object->cached_at);
  co_return true;
}

awaitable<bool> Edge::serve_disk(http::Exchange& ex, const Digest& d, std::string_view type) {
  auto hit = disk_.get(d);
  if (!hit) co_return false;
  counters_->hit_disk.inc();
  const uint64_t size = hit->file.size;
  if (ram_.accepts(size)) {
    // Promoted: read once here, then served from memory by this and later requests.
    auto bytes = read_all(hit->file.fd.get(), size);
    if (bytes) {
      auto shared = std::make_shared<const std::string>(std::move(*bytes));
      ram_.put(d, {shared, hit->cached_at});
      co_await send_bytes(ex, edge_head(d, "HIT", type), d, std::move(shared), hit->cached_at);
      co_return true;
    }
  }
  http::Head head = edge_head(d, "HIT", type);
  set_age(head, hit->cached_at);
  co_await http::respond_blob_file(ex, std::move(head), d, hit->file.fd.get(), size);
  count_not_modified(ex);
  co_return true;
}

void Edge::count_not_modified(const http::Exchange& ex) {
  if (ex.status() == status::not_modified) counters_->not_modified.inc();
}

awaitable<void> Edge::send_bytes(http::Exchange& ex, http::Head head, const Digest& d,
                                 std::shared_ptr<const std::string> bytes,
                                 WallClock::time_point cached_at) {
  set_age(head, cached_at);
  co_await http::respond_blob_bytes(ex, std::move(head), d, *bytes);
  count_not_modified(ex);
}

// Streams the fill's bytes as they become visible; if the fill fails midway the
// body stops short (the front end then closes the stream or connection).
awaitable<void> Edge::serve_fill(http::Exchange& ex, std::shared_ptr<Fill> fill,
                                 CacheStatus cache, std::string_view type) {
  const Digest d = fill->digest();
  http::Head head = edge_head(d, cache == CacheStatus::miss ? "MISS" : "COLLAPSED", type);
  auto end = co_await http::respond_fill(ex, std::move(head), fill);
  if (!end) co_return;  // failed before its first byte: answered with the error
  count_not_modified(ex);
  if (end->source_failed) {
    auto err = fill->error();
    log::warn("fill failed mid-response", {{"digest", d.str()},
                                           {"sent", end->sent},
                                           {"error", err ? err->message : std::string("?")}});
  }
}

std::shared_ptr<Fill> Edge::join_or_start(const Digest& d, bool& collapsed, bool& busy) {
  std::lock_guard lock(mu_);
  if (auto it = fills_.find(d); it != fills_.end()) {
    collapsed = true;
    return it->second;
  }
  if (disk_.contains(d)) return nullptr;  // a fill committed it since our lookup
  if (running_fills_ >= opts_.max_fills || stop_) {
    busy = true;
    return nullptr;
  }
  auto temp = disk_.create_temp();
  if (!temp) {
    log::error("cannot start a fill", {{"digest", d.str()}, {"error", temp.error().message}});
    busy = true;
    return nullptr;
  }
  auto fill = std::make_shared<Fill>(d, std::move(*temp), opts_.mem_object_max);
  // On the outbound pool, never a thread per fill: stop() waits for running_fills_.
  http::post_outbound([this, fill] { run_fill(fill); });
  fills_.emplace(d, fill);
  ++running_fills_;
  return fill;
}

void Edge::run_fill(std::shared_ptr<Fill> fill) {
  const http::FillSources sources = fill_sources();
  auto commit = [this, &sources](Fill& f, TempBlob& temp, std::string ram_copy) {
    return commit_fill(f, temp, std::move(ram_copy), sources.order.at(f.source()));
  };
  fill->run(sources, commit, stop_);
  if (fill->state() != Fill::State::complete) {
    counters_->fill_failed.inc();
    log::warn("fill failed", {{"digest", fill->digest().str()}, {"error", fill->error()->message}});
  }
  std::lock_guard lock(mu_);
  if (auto it = fills_.find(fill->digest()); it != fills_.end() && it->second == fill)
    fills_.erase(it);
  --running_fills_;
  // Under the lock: the destructor may free the edge as soon as it sees zero.
  fills_done_.notify_all();
}

http::FillSources Edge::fill_sources() {
  http::FillSources s;
  s.client = opts_.fill_client;
  if (opts_.peer) s.order.push_back({.name = kPeerSource, .url = *opts_.peer, .fetch = {}});
  auto origins = origins_.order();
  if (origins) {
    for (Url& url : *origins) {
      s.order.push_back({.name = kOriginSource, .url = std::move(url), .fetch = {}});
    }
  } else {
    // A dns: list that does not resolve yet: the swarm may still have the blob.
    log::warn("fill without origins", {{"origins", origins_.str()},
                                       {"error", origins.error().message}});
  }
  // Passive marking: later fills try an origin that just failed last, for a while.
  s.on_source_failed = [this](const Url& url) { origins_.failed(url); };
  return s;
}

Result<void> Edge::commit_fill(Fill& fill, TempBlob& temp, std::string ram_copy,
                               const http::FillSource& source) {
  if (auto r = disk_.commit(temp, fill.digest()); !r) return r.error();
  // Counted before clients see the fill complete, so metrics agree with responses.
  (source.name == kPeerSource ? counters_->fill_peer : counters_->fill_origin).inc();
  counters_->fill_seconds.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fill.started()).count());
  if (ram_.accepts(fill.size()) && ram_copy.size() == fill.size()) {
    ram_.put(fill.digest(),
             {std::make_shared<const std::string>(std::move(ram_copy)), WallClock::now()});
  }
  return {};
}

}  // namespace shoal::edge
