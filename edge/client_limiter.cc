#include "edge/client_limiter.h"

#include <algorithm>
#include <iterator>

namespace shoal::edge {
namespace {

std::chrono::seconds whole_seconds(std::chrono::milliseconds wait) {
  return std::max(std::chrono::ceil<std::chrono::seconds>(wait), std::chrono::seconds(1));
}

}  // namespace

ClientLimiter::ClientLimiter(double requests_per_s, double bytes_per_s, size_t max_clients)
    : requests_per_s_(std::max(requests_per_s, 0.0)),
      bytes_per_s_(std::max(bytes_per_s, 0.0)),
      max_clients_(std::max<size_t>(max_clients, 1)) {}

ClientLimiter::Decision ClientLimiter::admit(std::string_view client, SteadyTime now) {
  if (requests_per_s_ == 0 && bytes_per_s_ == 0) return {};
  std::lock_guard lock(mu_);
  Client& c = client_locked(client, now);
  // Debt first: a request refused for it must not spend a request token too.
  if (bytes_per_s_ > 0) {
    if (auto wait = c.bytes.retry_after(0, now); wait.count() > 0) {
      return {false, whole_seconds(wait)};
    }
  }
  if (requests_per_s_ > 0 && !c.requests.try_take(1, now)) {
    return {false, whole_seconds(c.requests.retry_after(1, now))};
  }
  return {};
}

void ClientLimiter::account_bytes(std::string_view client, uint64_t n, SteadyTime now) {
  if (bytes_per_s_ == 0) return;
  std::lock_guard lock(mu_);
  client_locked(client, now).bytes.take(static_cast<double>(n), now);
}

size_t ClientLimiter::prune(SteadyTime now) {
  std::lock_guard lock(mu_);
  return prune_locked(now);
}

size_t ClientLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

ClientLimiter::Client& ClientLimiter::client_locked(std::string_view key, SteadyTime now) {
  if (auto it = clients_.find(key); it != clients_.end()) {
    by_recency_.splice(by_recency_.end(), by_recency_, it->second.recency);
    return it->second;
  }
  if (clients_.size() >= max_clients_) make_room_locked(now);
  by_recency_.emplace_back(key);
  ++added_since_prune_;
  // A new client starts with full buckets: one second's worth, at least a request.
  Client fresh{
      TokenBucket({.rate_per_s = requests_per_s_, .burst = std::max(requests_per_s_, 1.0)}),
      TokenBucket({.rate_per_s = bytes_per_s_, .burst = bytes_per_s_}),
      std::prev(by_recency_.end())};
  return clients_.emplace(by_recency_.back(), fresh).first->second;
}

bool ClientLimiter::forgettable(const Client& c, SteadyTime now) const {
  return (requests_per_s_ == 0 || c.requests.full(now)) && (bytes_per_s_ == 0 || c.bytes.full(now));
}

void ClientLimiter::make_room_locked(SteadyTime now) {
  // A full scan only after max/2 additions since the last one, so a flood of new
  // addresses costs O(1) each; between scans the least recently active client goes,
  // which forgives its debt only if it stayed quiet longer than every other client.
  if (added_since_prune_ >= max_clients_ / 2) prune_locked(now);
  while (clients_.size() >= max_clients_) forget_locked(clients_.find(by_recency_.front()));
}

void ClientLimiter::forget_locked(std::unordered_map<std::string_view, Client>::iterator it) {
  auto node = it->second.recency;
  clients_.erase(it);  // before its key's storage goes
  by_recency_.erase(node);
}

size_t ClientLimiter::prune_locked(SteadyTime now) {
  added_since_prune_ = 0;
  size_t before = clients_.size();
  for (auto it = clients_.begin(); it != clients_.end();) {
    auto next = std::next(it);
    if (forgettable(it->second, now)) forget_locked(it);
    it = next;
  }
  return before - clients_.size();
}

}  // namespace shoal::edge
