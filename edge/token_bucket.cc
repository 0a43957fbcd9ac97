#include "edge/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shoal::edge {
namespace {

// Balances are doubles: refills like 0.3 tokens/s × 10/3 s land a hair under the
// whole number. Waiting exactly retry_after must be enough, so comparisons allow
// this much.
constexpr double kSlack = 1e-9;

double seconds_between(SteadyTime from, SteadyTime to) {
  return std::chrono::duration<double>(to - from).count();
}

std::chrono::seconds whole_seconds(std::chrono::milliseconds wait) {
  return std::max(std::chrono::ceil<std::chrono::seconds>(wait), std::chrono::seconds(1));
}

}  // namespace

TokenBucket::TokenBucket(double rate_per_s, double burst)
    : rate_(std::max(rate_per_s, 0.0)), burst_(std::max(burst, 0.0)), tokens_(burst_) {}

double TokenBucket::available(SteadyTime now) const {
  // A time before the last one (callers on other threads read the clock earlier but
  // got the lock later) adds nothing rather than going back.
  if (now <= last_) return tokens_;
  return std::min(burst_, tokens_ + rate_ * seconds_between(last_, now));
}

void TokenBucket::refill(SteadyTime now) {
  tokens_ = available(now);
  last_ = std::max(last_, now);
}

bool TokenBucket::try_take(double n, SteadyTime now) {
  refill(now);
  if (tokens_ + kSlack < n) return false;
  tokens_ -= n;
  return true;
}

void TokenBucket::take(double n, SteadyTime now) {
  refill(now);
  tokens_ -= n;
}

std::chrono::milliseconds TokenBucket::retry_after(double n, SteadyTime now) const {
  using std::chrono::milliseconds;
  double missing = n - available(now);
  if (missing <= kSlack) return milliseconds(0);
  if (rate_ <= 0 || n > burst_ + kSlack) return milliseconds::max();
  double ms = std::ceil(missing / rate_ * 1000.0);
  if (ms >= static_cast<double>(std::numeric_limits<milliseconds::rep>::max())) {
    return milliseconds::max();
  }
  return milliseconds(static_cast<milliseconds::rep>(ms));
}

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
  Client fresh{TokenBucket(requests_per_s_, std::max(requests_per_s_, 1.0)),
               TokenBucket(bytes_per_s_, bytes_per_s_), std::prev(by_recency_.end())};
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
