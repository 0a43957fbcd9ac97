// The agent's side of the origin's hand-out (origin/handout_ledger.h): while a blob
// downloads, `window` threads each ask the origin for a piece nobody the agent can
// reach holds (GET /blobs/<digest>/handout, Shoal-Held: the pieces it holds or sees at
// a peer), and hand what comes back to libtorrent, which checks it against the piece
// hash and announces it to the swarm. Everything else comes from peers: with the
// hand-out on, the swarm ignores what the origin's BitTorrent side says it has, so
// each piece leaves the origin about once. One piece per thread in memory at a time.
// With several origins each thread asks the first in http::Upstreams' order and marks
// one that fails, so the next request goes to the next origin.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "http/client.h"
#include "http/upstreams.h"
#include "core/url.h"
#include "peer/piece_watch.h"
#include "peer/swarm.h"

namespace shoal::peer {

struct HandoutGeometry {
  uint64_t size = 0;
  uint32_t piece_size = 0;
  uint32_t pieces = 0;
};

class HandoutFetcher {
 public:
  // `agent`: this agent's id for the origin (Shoal-Agent), the same for every blob.
  // `origins` outlives this (the agent owns both).
  HandoutFetcher(Swarm& swarm, http::Upstreams& origins, const Digest& d, HandoutGeometry g,
                 unsigned window, uint64_t agent);
  ~HandoutFetcher();  // stop() and wait for the threads
  HandoutFetcher(const HandoutFetcher&) = delete;
  HandoutFetcher& operator=(const HandoutFetcher&) = delete;

  // Asks the threads to end after the request in hand; does not wait.
  void stop();
  bool finished() const { return running_ == 0; }

 private:
  void run();
  // One request (through `client`, reconnected to the origin first in order);
  // returns how long to wait before the next.
  std::chrono::milliseconds fetch_one(std::optional<http::Client>& client);
  std::chrono::milliseconds take(const http::Response& r, std::vector<char>&& piece);
  std::optional<Url> handout_origin();
  // A 307 from an origin of a ring that does not run this blob's hand-out.
  std::chrono::milliseconds follow(const http::Response& r);
  void pause(std::chrono::milliseconds d);
  std::optional<PieceWatch::Ask> what_to_ask();

  Swarm& swarm_;
  http::Upstreams& origins_;
  const Digest digest_;
  const HandoutGeometry geometry_;
  const std::string agent_;
  std::atomic<bool> stop_{false};
  std::atomic<unsigned> running_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  PieceWatch watch_;  // guarded by mu_
  std::optional<Url> runner_;  // the origin running this blob's hand-out; guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace shoal::peer
