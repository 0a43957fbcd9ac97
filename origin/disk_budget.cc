#include "origin/disk_budget.h"

namespace shoal::origin {

void DiskBudget::add(const Digest& d, uint64_t size) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(d); it != entries_.end()) {
    order_.splice(order_.begin(), order_, it->second.at);
    return;
  }
  order_.push_front(d);
  entries_.emplace(d, Entry{order_.begin(), size});
  used_ += size;
}

void DiskBudget::touch(const Digest& d) {
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(d); it != entries_.end()) {
    order_.splice(order_.begin(), order_, it->second.at);
  }
}

void DiskBudget::erase(const Digest& d) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(d);
  if (it == entries_.end()) return;
  used_ -= it->second.size;
  order_.erase(it->second.at);
  entries_.erase(it);
}

uint64_t DiskBudget::used() const {
  std::lock_guard lock(mu_);
  return used_;
}

size_t DiskBudget::count() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::vector<Digest> DiskBudget::victims(const std::function<bool(const Digest&)>& may_evict) const {
  std::lock_guard lock(mu_);
  std::vector<Digest> out;
  uint64_t used = used_;
  for (auto it = order_.rbegin(); it != order_.rend() && used > limit_; ++it) {
    if (!may_evict(*it)) continue;
    out.push_back(*it);
    used -= entries_.at(*it).size;
  }
  return out;
}

}  // namespace shoal::origin
