#include "http/fill.h"

#include <fcntl.h>

#include <algorithm>
#include <vector>

#include "core/log.h"
#include "core/text.h"
#include "http/range.h"
#include "http/upstreams.h"

namespace shoal::http {
namespace {

// Anything but our own shutdown sends the fill on: unlike a lookup, where a 404 is the
// answer, a source without the blob (a peer agent, an owner that lost its copy) only
// means the next one may have it.
bool try_next_source(const Error& e) { return !e.is(Errc::cancelled); }

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
  Result<void> outcome = Error(Errc::unavailable, "no source to fill " + digest_.str() + " from");
  for (size_t i = 0; i < sources.order.size(); ++i) {
    // A fill may wait in the outbound pool's queue: one stopped meanwhile must not
    // start a request it would then have to wait for.
    if (stop.load(std::memory_order_relaxed)) {
      outcome = Error(Errc::cancelled, "stopping");
      break;
    }
    const FillSource& source = sources.order[i];
    source_.store(i, std::memory_order_release);
    outcome = fetch_from(source, sources, stop);
    if (outcome || !try_next_source(outcome.error())) break;
    if (worth_another(outcome.error()) && sources.on_source_failed) {
      sources.on_source_failed(source.url);
    }
    if (i + 1 < sources.order.size()) {
      const FillSource& next = sources.order[i + 1];
      log::info("fill moves to the next source", {{"digest", digest_.str()},
                                                  {"from", source.url.str()},
                                                  {"to", next.name + " " + next.url.str()},
                                                  {"at", written_.load()},
                                                  {"error", outcome.error().message}});
    }
  }
  finish(std::move(outcome), commit);
}

Result<void> Fill::fetch_from(const FillSource& source, const FillSources& sources,
                              const std::atomic<bool>& stop) {
  if (source.fetch) return fetch_with(source, stop);
  Client client(source.url, sources.client);
  const uint64_t from = written_.load(std::memory_order_acquire);
  Headers headers = sources.headers;
  if (from > 0) headers.emplace_back("Range", "bytes=" + std::to_string(from) + "-");
  auto sink = [&](const char* data, size_t len) -> Result<void> {
    if (stop.load(std::memory_order_relaxed)) return Error(Errc::cancelled, "stopping");
    return append(data, len);
  };
  auto hook = [&](const Response& head) -> Result<void> {
    if (from == 0) return on_head(head);
    auto range = parse_content_range(head.header("content-range"));
    if (head.status != 206 || !range || range->first != from || range->total != size()) {
      return Error(Errc::protocol_error,
                   source.name + " did not resume at byte " + std::to_string(from));
    }
    return {};
  };
  auto response = client.download(source.url.target("/blobs/" + digest_.str()), headers, sink,
                                  hook);
  if (!response) {
    const Error& e = response.error();
    if (e.is(Errc::cancelled)) return e;
    return Error(e.code, source.name + " " + source.url.str() + ": " + e.message);
  }
  if (!response->success()) {
    return Error(errc_for_status(response->status),
                 source.name + " " + source.url.str() + ": " + describe_failure(*response));
  }
  if (written_.load() != size()) {
    return Error(Errc::unavailable, source.name + " ended the body after " +
                                        std::to_string(written_.load()) + " bytes");
  }
  return {};
}

Result<void> Fill::fetch_with(const FillSource& source, const std::atomic<bool>& stop) {
  const uint64_t from = written_.load(std::memory_order_acquire);
  auto on_size = [&](uint64_t size) -> Result<void> {
    if (from == 0) return start_streaming(size);
    if (size != this->size()) {
      return Error(Errc::protocol_error, source.name + " holds " + std::to_string(size) +
                                             " bytes, not " + std::to_string(this->size()));
    }
    return {};
  };
  auto sink = [&](const char* data, size_t len) -> Result<void> {
    if (stop.load(std::memory_order_relaxed)) return Error(Errc::cancelled, "stopping");
    return append(data, len);
  };
  auto fetched = source.fetch(from, on_size, sink);
  if (!fetched) {
    if (fetched.error().is(Errc::cancelled)) return fetched;
    return Error(fetched.error().code, source.name + ": " + fetched.error().message);
  }
  if (written_.load() != size()) {
    return Error(Errc::unavailable, source.name + " ended the blob after " +
                                        std::to_string(written_.load()) + " bytes");
  }
  return {};
}

Result<void> Fill::on_head(const http::Response& head) {
  auto length = text::parse_uint<uint64_t>(head.header("content-length"));
  if (head.status != 200 || !length) {
    return Error(Errc::protocol_error, "the upstream answered without a whole body's length");
  }
  return start_streaming(*length);
}

Result<void> Fill::start_streaming(uint64_t length) {
  size_.store(length, std::memory_order_release);
  if (length <= ram_copy_limit_) ram_copy_.reserve(length);
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

}  // namespace shoal::http
