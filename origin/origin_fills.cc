// Reads of blobs this origin does not hold: any origin of a ring answers for any
// blob, fetching it from the blob's owners in ring order (http::Fill: streamed to
// every waiter while it arrives, Range kept, one upstream fetch per digest however
// many clients wait). An owner that lacks its copy (a wiped disk) keeps what it
// fetched; any other origin only passes the bytes through.
#include "core/log.h"
#include "core/text.h"
#include "http/failure.h"
#include "http/fill_response.h"
#include "http/outbound.h"
#include "origin/origin.h"

namespace shoal::origin {

std::shared_ptr<http::Fill> Origin::join_or_start_fill(const Digest& d) {
  std::lock_guard lock(fills_mu_);
  if (auto it = fills_.find(d); it != fills_.end()) return it->second;
  auto temp = store_->create_temp();
  if (!temp) {
    log::error("cannot start a fill", {{"digest", d.str()}, {"error", temp.error().message}});
    return nullptr;
  }
  // Small blobs are not worth a RAM copy here: clients read the temporary file.
  auto fill = std::make_shared<http::Fill>(d, std::move(*temp), 0);
  fills_.emplace(d, fill);
  post_ring([this, fill] { run_fill(fill); });
  return fill;
}

http::FillSources Origin::fill_sources(const Digest& d) {
  http::FillSources s;
  s.client = peer_client_options();
  s.headers = peer_headers();
  for (const Owner& o : cluster_.order(blob_key(d.str()), SteadyClock::now())) {
    if (!o.self && o.up) s.order.push_back({.name = "origin", .url = o.url, .fetch = {}});
  }
  if (opts_.backend) s.order.push_back(backend_source(d));
  s.on_source_failed = [this](const Url& u) { cluster_.report_failure(u, SteadyClock::now()); };
  return s;
}

void Origin::run_fill(std::shared_ptr<http::Fill> fill) {
  const Digest d = fill->digest();
  const bool keep = owns(d);
  const auto sources = fill_sources(d);
  const size_t backend_index = opts_.backend ? sources.order.size() - 1 : http::Fill::kNoSource;
  auto commit = [&](http::Fill& f, TempBlob& temp, std::string) -> Result<void> {
    if (!keep) return temp.verify(d);  // passed through: verified, never stored
    auto placed = store_->commit(temp, d);
    if (!placed) return placed.error();
    on_committed(d);
    if (f.source() == backend_index) {  // nothing to write back: it came from there
      backend_fills_->inc();
      return writeback_->written(d);
    }
    return {};
  };
  fill->run(sources, commit, stopping_);
  if (fill->state() != http::Fill::State::complete) {
    log::warn("fill from the ring failed", {{"digest", d.str()}, {"error", fill->error()->message}});
  }
  std::lock_guard lock(fills_mu_);
  fills_.erase(d);
}

// The size of d as the first owner holding it answers a HEAD; Errc::not_found if none.
Result<uint64_t> Origin::size_in_ring(const Digest& d) {
  for (const Owner& o : cluster_.order(blob_key(d.str()), SteadyClock::now())) {
    if (o.self || !o.up) continue;
    http::Client client(o.url, peer_client_options());
    auto r = client.request("HEAD", "/blobs/" + d.str(), peer_headers());
    if (!r) {
      cluster_.report_failure(o.url, SteadyClock::now());
      continue;
    }
    auto size = text::parse_uint<uint64_t>(r->header("content-length"));
    if (r->status == 200 && size) return *size;
  }
  return Error(Errc::not_found, "no origin of the ring holds " + d.str());
}

awaitable<void> Origin::serve_from_ring(http::Exchange& ex, const Digest& d) {
  if (ex.method() == bhttp::verb::head) {
    // A HEAD must not pull the whole blob through this origin.
    auto ask = [&] {
      auto size = size_in_ring(d);
      return size || !opts_.backend ? size : size_in_backend(d);
    };
    auto size = co_await http::outbound(ask);
    if (!size) co_return co_await http::respond_failure(ex, size.error(), "BLOB_UNKNOWN");
    co_return co_await http::respond_blob_head(ex, http::blob_head(d), d, *size);
  }
  auto fill = join_or_start_fill(d);
  if (!fill) {
    co_return co_await ex.respond_error(bhttp::status::service_unavailable, "UNAVAILABLE",
                                        "cannot start fetching " + d.str() + " from its owners");
  }
  co_await http::respond_fill(ex, http::blob_head(d), std::move(fill));
}

}  // namespace shoal::origin
