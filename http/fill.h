// One cache fill: the bytes of a blob this process does not hold, fetched from an
// ordered list of sources (the edge: its peer agent, then each origin; an origin of a
// ring: the blob's other owners), written to a temporary file of the caller's store
// while every waiting client reads them from that file. When a source fails midway the
// next one resumes with a Range request at the byte reached. A fill holds a thread for
// its whole run (Shoal's blocking HTTP client), never one of the disk pool's
// (http/offload.h): the place for it is the outbound pool (http::post_outbound).
// Clients wait on its ChangeSignal.
//
// The last byte stays invisible until the whole blob has matched its digest, so a
// client never receives a complete body that failed it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/change_signal.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/store/blob_store.h"
#include "core/url.h"
#include "http/client.h"

namespace shoal::http {

// A source that is not one of Shoal's HTTP servers (a storage backend): given the byte
// to start at, it reports the blob's whole size once, then passes the bytes from there
// on to the sink in order.
using SizeHook = std::function<Result<void>(uint64_t size)>;
using FetchFn = std::function<Result<void>(uint64_t from, const SizeHook&, const BodySink&)>;

struct FillSource {
  std::string name;  // what logs, errors and the caller's metrics call it ("peer", "origin")
  Url url;           // GET <url>/blobs/<digest>
  FetchFn fetch;     // set: used instead of a GET of url
};

struct FillSources {
  std::vector<FillSource> order;  // tried first to last
  ClientOptions client;
  Headers headers;  // sent with every request (an origin's token and its peer marker)
  // Called on the fill's thread with a source's URL when it failed in a way that says
  // it is unwell rather than lacking the blob (http::worth_another: unreachable, timed
  // out, 5xx), so the caller can try it last for a while (Upstreams::failed).
  std::function<void(const Url&)> on_source_failed;
};

class Fill {
 public:
  enum class State { connecting, streaming, complete, failed };
  static constexpr size_t kNoSource = static_cast<size_t>(-1);
  // Called on the fill's thread when the bytes are complete and verified, before
  // clients see State::complete: the caller moves them into its store. `ram_copy` holds
  // the whole blob when it was small enough to keep in memory.
  using Commit = std::function<Result<void>(Fill&, TempBlob&, std::string ram_copy)>;

  Fill(Digest d, TempBlob temp, uint64_t ram_copy_limit);
  Fill(const Fill&) = delete;
  Fill& operator=(const Fill&) = delete;

  const Digest& digest() const { return digest_; }
  State state() const { return state_.load(std::memory_order_acquire); }
  // Index in FillSources::order of the source asked last (the one that completed a
  // complete fill); kNoSource before run() asks any.
  size_t source() const { return source_.load(std::memory_order_acquire); }
  // Valid once the state is streaming or later.
  uint64_t size() const { return size_.load(std::memory_order_acquire); }
  // Bytes clients may read now from fd().
  uint64_t visible() const;
  int fd() const { return fd_.get(); }
  // Set once the state is failed.
  std::optional<Error> error() const;
  ChangeSignal& changed() { return changed_; }
  std::chrono::steady_clock::time_point started() const { return started_; }

  // Fetches on the calling thread until complete or failed; `stop` aborts, and a
  // fill that starts after it was set fails at once (Errc::cancelled).
  void run(const FillSources& sources, const Commit& commit, const std::atomic<bool>& stop);

 private:
  Result<void> fetch_from(const FillSource& source, const FillSources& sources,
                          const std::atomic<bool>& stop);
  Result<void> fetch_with(const FillSource& source, const std::atomic<bool>& stop);
  Result<void> on_head(const Response& head);
  Result<void> start_streaming(uint64_t length);
  Result<void> append(const char* data, size_t len);
  void finish(Result<void> outcome, const Commit& commit);

  const Digest digest_;
  TempBlob temp_;
  const UniqueFd fd_;
  const uint64_t ram_copy_limit_;
  std::string ram_copy_;
  std::atomic<State> state_{State::connecting};
  std::atomic<size_t> source_{kNoSource};
  std::atomic<uint64_t> size_{0};
  std::atomic<uint64_t> written_{0};
  mutable std::mutex mu_;
  std::optional<Error> error_;
  ChangeSignal changed_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace shoal::http
