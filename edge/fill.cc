#include "edge/fill.h"

#include <fcntl.h>

#include <algorithm>
#include <vector>

#include "core/log.h"
#include "core/text.h"
#include "http/range.h"

namespace shoal::edge {
namespace {

const char* source_name(Fill::Source s) { return s == Fill::Source::peer ? "peer" : "origin"; }

// A failure the next source may not share: anything but our own shutdown.
bool worth_another_source(const Error& e) { return !e.is(Errc::cancelled); }

}  // namespace

Fill::Fill(Digest d, TempBlob temp, uint64_t ram_copy_limit)
    : digest_(d),
      temp_(std::move(temp)),
      // The temporary is write-only; clients read through a descriptor of their own
      // that stays valid after the rename into the store, or an eviction.
      fd_(::open(temp_.path().c_str(), O_RDONLY | O_CLOEXEC)),
      ram_copy_limit_(ram_copy_limit) {}

uint64_t Fill::visible() const {
  if (state() == State::complete) return size();
  uint64_t s = size();
  uint64_t w = written_.load(std::memory_order_acquire);
  return s == 0 ? 0 : std::min(w, s - 1);
}

std::optional<Error> Fill::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void Fill::run(const FillSources& sources, const Commit& commit, const std::atomic<bool>& stop) {
  if (!fd_.valid()) {
    finish(Error(Errc::io_error, "cannot open the fill's temporary file"), commit);
    return;
  }
  std::vector<std::pair<Source, Url>> order;
  if (sources.peer) order.emplace_back(Source::peer, *sources.peer);
  order.emplace_back(Source::origin, sources.origin);
  Result<void> outcome = Error(Errc::unavailable, "no upstream");
  for (const auto& [source, url] : order) {
    // A fill may wait in the outbound pool's queue: one the edge stopped meanwhile
    // must not start a request it would then have to wait for.
    if (stop.load(std::memory_order_relaxed)) {
      outcome = Error(Errc::cancelled, "the edge is stopping");
      break;
    }
    source_.store(source, std::memory_order_release);
    outcome = fetch_from(url, sources.client, stop);
    if (outcome || !worth_another_source(outcome.error())) break;
    if (source == Source::peer) {
      log::info(
          "fill falls back to the origin",
          {{"digest", digest_.str()}, {"at", written_.load()}, {"error", outcome.error().message}});
    }
  }
  finish(std::move(outcome), commit);
}

Result<void> Fill::fetch_from(const Url& base, const http::ClientOptions& opts,
                              const std::atomic<bool>& stop) {
  http::Client client(base, opts);
  const uint64_t from = written_.load(std::memory_order_acquire);
  http::Headers headers;
  if (from > 0) headers.emplace_back("Range", "bytes=" + std::to_string(from) + "-");
  auto sink = [&](const char* data, size_t len) -> Result<void> {
    if (stop.load(std::memory_order_relaxed)) return Error(Errc::cancelled, "the edge is stopping");
    return append(data, len);
  };
  auto hook = [&](const http::Response& head) -> Result<void> {
    if (from == 0) return on_head(head);
    auto range = http::parse_content_range(head.header("content-range"));
    if (head.status != 206 || !range || range->first != from || range->total != size()) {
      return Error(Errc::protocol_error,
                   "the upstream did not resume at byte " + std::to_string(from));
    }
    return {};
  };
  auto response = client.download("/blobs/" + digest_.str(), headers, sink, hook);
  if (!response) return response.error();
  if (!response->success()) {
    return Error(http::errc_for_status(response->status),
                 std::string(source_name(source())) + ": " + http::describe_failure(*response));
  }
  if (written_.load() != size()) {
    return Error(Errc::unavailable, std::string(source_name(source())) + " ended the body after " +
                                        std::to_string(written_.load()) + " bytes");
  }
  return {};
}

Result<void> Fill::on_head(const http::Response& head) {
  auto length = text::parse_uint<uint64_t>(head.header("content-length"));
  if (head.status != 200 || !length) {
    return Error(Errc::protocol_error, "the upstream answered without a whole body's length");
  }
  size_.store(*length, std::memory_order_release);
  if (*length <= ram_copy_limit_) ram_copy_.reserve(*length);
  state_.store(State::streaming, std::memory_order_release);
  changed_.notify();
  return {};
}

Result<void> Fill::append(const char* data, size_t len) {
  uint64_t w = written_.load(std::memory_order_relaxed);
  if (w + len > size())
    return Error(Errc::protocol_error, "the upstream sent more than its length");
  if (auto r = temp_.append(data, len); !r) return r.error();
  if (size() <= ram_copy_limit_) ram_copy_.append(data, len);
  written_.store(w + len, std::memory_order_release);
  changed_.notify();
  return {};
}

void Fill::finish(Result<void> outcome, const Commit& commit) {
  if (outcome) outcome = commit(*this, temp_, std::move(ram_copy_));
  {
    std::lock_guard lock(mu_);
    if (outcome) {
      state_.store(State::complete, std::memory_order_release);
    } else {
      Error e = outcome.error();
      if (e.is(Errc::digest_mismatch)) {
        e = Error(Errc::protocol_error, "the upstream's bytes do not hash to " + digest_.str());
      }
      error_ = e;
      state_.store(State::failed, std::memory_order_release);
    }
  }
  changed_.notify();
}

}  // namespace shoal::edge
