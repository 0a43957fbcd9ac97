#include "peer/receive_rate.h"

#include <algorithm>

namespace shoal::peer {

void ReceiveRate::sample(uint64_t bytes, std::chrono::steady_clock::duration took) {
  if (bytes < kMinSampleBytes) return;
  // A link's rate changes when its other traffic does: half the weight on the latest
  // piece lets one slow piece show at the next request.
  const double seconds = std::max(std::chrono::duration<double>(took).count(), 1e-3);
  const double rate = static_cast<double>(bytes) / seconds;
  std::lock_guard lock(mu_);
  rate_ = rate_ == 0 ? rate : (rate_ + rate) / 2;
}

std::optional<uint64_t> ReceiveRate::bytes_per_second() const {
  std::lock_guard lock(mu_);
  if (rate_ == 0) return std::nullopt;
  return static_cast<uint64_t>(rate_);
}

}  // namespace shoal::peer
