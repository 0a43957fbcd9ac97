// One cache fill: the bytes of a blob the edge does not hold, fetched from the
// co-located peer agent (the swarm) and, when it cannot serve them, from the origin,
// written to a temporary file of the disk tier while every waiting client reads them
// from that file. A fill holds a thread for its whole run (Shoal's blocking HTTP
// client), never one of the disk pool's (http/offload.h): the place for it is the
// outbound pool (http::post_outbound). Clients wait on its ChangeSignal.
//
// The last byte stays invisible until the whole blob has matched its digest, so a
// client never receives a complete body that failed it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/store/blob_store.h"
#include "core/change_signal.h"
#include "core/digest.h"
#include "core/error.h"
#include "http/client.h"
#include "core/url.h"

namespace shoal::edge {

struct FillSources {
  std::optional<Url> peer;  // the swarm, through the host's peer agent
  Url origin;
  http::ClientOptions client;
};

class Fill {
 public:
  enum class State { connecting, streaming, complete, failed };
  enum class Source { none, peer, origin };
  // Called on the fill's thread when the bytes are complete and verified, before
  // clients see State::complete: the edge moves them into its tiers. `ram_copy` holds
  // the whole blob when it was small enough to keep in memory.
  using Commit = std::function<Result<void>(Fill&, TempBlob&, std::string ram_copy)>;

  Fill(Digest d, TempBlob temp, uint64_t ram_copy_limit);
  Fill(const Fill&) = delete;
  Fill& operator=(const Fill&) = delete;

  const Digest& digest() const { return digest_; }
  State state() const { return state_.load(std::memory_order_acquire); }
  Source source() const { return source_.load(std::memory_order_acquire); }
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
  Result<void> fetch_from(const Url& base, const http::ClientOptions& opts,
                          const std::atomic<bool>& stop);
  Result<void> on_head(const http::Response& head);
  Result<void> append(const char* data, size_t len);
  void finish(Result<void> outcome, const Commit& commit);

  const Digest digest_;
  TempBlob temp_;
  const UniqueFd fd_;
  const uint64_t ram_copy_limit_;
  std::string ram_copy_;
  std::atomic<State> state_{State::connecting};
  std::atomic<Source> source_{Source::none};
  std::atomic<uint64_t> size_{0};
  std::atomic<uint64_t> written_{0};
  mutable std::mutex mu_;
  std::optional<Error> error_;
  ChangeSignal changed_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace shoal::edge
