#include "origin/writeback_queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace shoal::origin {
namespace {

constexpr std::chrono::milliseconds kFirstRetry{1'000};
constexpr std::chrono::milliseconds kMaxRetry{60'000};

}  // namespace

std::filesystem::path WritebackQueue::marker(const Digest& d) const { return dir_ / d.hex(); }

Result<void> WritebackQueue::init(
    const std::vector<Digest>& stored, Clock::time_point now,
    const std::function<std::chrono::milliseconds(const Digest&)>& age_of) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Error(Errc::io_error, "creating " + dir_.string() + ": " + ec.message());
  std::lock_guard lock(mu_);
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    auto d = Digest::parse("sha256:" + entry.path().filename().string());
    if (d) written_.insert(*d);
  }
  if (ec) return Error(Errc::io_error, "reading " + dir_.string() + ": " + ec.message());
  for (const Digest& d : stored) {
    if (!written_.contains(d)) pending_.emplace(d, Entry{now - age_of(d), now});
  }
  return {};
}

void WritebackQueue::add(const Digest& d, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!written_.contains(d)) pending_.try_emplace(d, Entry{now, now});
}

std::optional<Digest> WritebackQueue::next(Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto& [d, e] : pending_) {
    if (!e.running && e.due <= now) {
      e.running = true;
      return d;
    }
  }
  return std::nullopt;
}

Result<void> WritebackQueue::written(const Digest& d) {
  // An empty file; not fsynced: losing it costs one HEAD after a crash, nothing more.
  const std::string path = marker(d).string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error(errno, "writing " + path);
  ::close(fd);
  std::lock_guard lock(mu_);
  pending_.erase(d);
  written_.insert(d);
  return {};
}

void WritebackQueue::later(const Digest& d, Clock::time_point now, bool failure) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(d);
  if (it == pending_.end()) return;
  Entry& e = it->second;
  e.running = false;
  if (failure) e.failures = std::min(e.failures + 1, 16u);
  auto wait = kFirstRetry * (1u << std::min(e.failures, 6u));
  e.due = now + std::min<std::chrono::milliseconds>(wait, kMaxRetry);
}

void WritebackQueue::forget(const Digest& d) {
  std::lock_guard lock(mu_);
  pending_.erase(d);
  if (written_.erase(d) > 0) ::unlink(marker(d).c_str());
}

bool WritebackQueue::is_written(const Digest& d) const {
  std::lock_guard lock(mu_);
  return written_.contains(d);
}

bool WritebackQueue::is_pending(const Digest& d) const {
  std::lock_guard lock(mu_);
  return pending_.contains(d);
}

std::chrono::milliseconds WritebackQueue::age(const Digest& d, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = pending_.find(d);
  if (it == pending_.end()) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second.added);
}

size_t WritebackQueue::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

std::chrono::milliseconds WritebackQueue::oldest(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  std::chrono::milliseconds age{0};
  for (const auto& [d, e] : pending_) {
    age = std::max(age, std::chrono::duration_cast<std::chrono::milliseconds>(now - e.added));
  }
  return age;
}

}  // namespace shoal::origin
