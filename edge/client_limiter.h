// Per-client rate limiting for the edge: a table of token buckets (core/token_bucket.h)
// keyed by client address, bounded in memory. Sans-I/O: every call takes the time, so
// tests step a clock by hand and nothing here sleeps or reads a clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/token_bucket.h"

namespace shoal::edge {

// Per-client limits on requests per second and bytes per second (0 disables a limit;
// bursts are one second's worth, at least one request). Thread-safe. Memory is
// bounded under a flood of distinct addresses: past max_clients the least recently
// active clients are forgotten, those whose buckets are full again first.
class ClientLimiter {
 public:
  static constexpr size_t kDefaultMaxClients = 100'000;

  struct Decision {
    bool allowed = true;
    std::chrono::seconds retry_after{0};  // when refused: at least 1, for Retry-After
  };

  ClientLimiter(double requests_per_s, double bytes_per_s, size_t max_clients = kDefaultMaxClients);

  // One request from `client` (e.g. its IP address): refused while its request rate
  // is exceeded or it is in debt for bytes already sent. A refused request costs
  // nothing.
  Decision admit(std::string_view client, SteadyTime now);
  // Debits bytes sent to `client`.
  void account_bytes(std::string_view client, uint64_t n, SteadyTime now);
  // Forgets clients whose buckets are full again (idle long enough that a fresh
  // bucket is the same); returns how many. Call periodically.
  size_t prune(SteadyTime now);
  size_t tracked() const;

 private:
  struct Client {
    TokenBucket requests;
    TokenBucket bytes;
    std::list<std::string>::iterator recency;  // its key's node in by_recency_
  };

  Client& client_locked(std::string_view key, SteadyTime now);
  bool forgettable(const Client& c, SteadyTime now) const;
  void make_room_locked(SteadyTime now);
  void forget_locked(std::unordered_map<std::string_view, Client>::iterator it);
  size_t prune_locked(SteadyTime now);

  const double requests_per_s_;
  const double bytes_per_s_;
  const size_t max_clients_;
  mutable std::mutex mu_;
  // The keys live in the list, whose nodes never move, and the map views them: one
  // copy of each address, and O(1) moves to the back on every request.
  std::list<std::string> by_recency_;  // front: least recently active
  std::unordered_map<std::string_view, Client> clients_;
  size_t added_since_prune_ = 0;
};

}  // namespace shoal::edge
