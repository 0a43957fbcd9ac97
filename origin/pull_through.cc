#include "origin/pull_through.h"

namespace shoal::origin {

void PullThrough::note_repository(const Digest& d, const std::string& repository) {
  std::lock_guard lock(mu_);
  repositories_.emplace(d, repository);
}

std::optional<std::string> PullThrough::repository_of(const Digest& d) const {
  std::lock_guard lock(mu_);
  auto it = repositories_.find(d);
  if (it == repositories_.end()) return std::nullopt;
  return it->second;
}

PullThrough::Outcome PullThrough::once(const Digest& d, const std::function<Result<void>()>& fetch) {
  std::unique_lock lock(mu_);
  if (auto it = flights_.find(d); it != flights_.end()) {
    auto flight = it->second;
    landed_.wait(lock, [&] { return flight->done; });
    return {flight->result, false};
  }
  auto flight = std::make_shared<Flight>();
  flights_.emplace(d, flight);
  lock.unlock();
  Result<void> result = fetch();
  lock.lock();
  flight->result = result;
  flight->done = true;
  flights_.erase(d);
  landed_.notify_all();
  return {std::move(result), true};
}

std::unique_ptr<PullThrough> make_pull_through(std::shared_ptr<storage::RegistryBackend> upstream) {
  if (!upstream) return nullptr;
  return std::make_unique<PullThrough>(std::move(upstream));
}

}  // namespace shoal::origin
