#include "origin/replica_queue.h"

#include <unistd.h>

#include <algorithm>

#include "core/file_io.h"
#include "core/log.h"
#include "origin/ring.h"

namespace shoal::origin {
namespace {

constexpr std::chrono::milliseconds kFirstRetry{1'000};
constexpr std::chrono::milliseconds kMaxRetry{60'000};

char hex(uint64_t v) { return "0123456789abcdef"[v & 15]; }

}  // namespace

std::string CopyJob::key() const {
  // The digest's hex and a hash of the target: fixed-length, safe as a file name.
  uint64_t h = Ring::seed_of(target.str());
  std::string tail(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) tail[static_cast<size_t>(i)] = hex(h);
  return digest.hex() + "." + tail;
}

Result<void> ReplicaQueue::init(Clock::time_point now) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Error(Errc::io_error, "creating " + dir_.string() + ": " + ec.message());
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".tmp-")) {
      std::filesystem::remove(entry.path(), ec);
      continue;
    }
    auto text = read_small_file(entry.path().string(), 4096);
    auto d = Digest::parse("sha256:" + name.substr(0, name.find('.')));
    auto url = text ? Url::parse(std::string_view(*text).substr(0, text->find('\n')))
                    : Result<Url>(text.error());
    if (!d || !url) {
      log::warn("dropping an unreadable replication job", {{"file", name}});
      std::filesystem::remove(entry.path(), ec);
      continue;
    }
    CopyJob job{*d, *url};
    jobs_.insert_or_assign(job.key(), Entry{job, now, now});
  }
  return {};
}

Result<void> ReplicaQueue::add(const CopyJob& job, Clock::time_point now, bool running) {
  const std::string key = job.key();
  {
    std::lock_guard lock(mu_);
    if (auto it = jobs_.find(key); it != jobs_.end()) {
      if (!running) return {};
      if (it->second.running) return Error(Errc::conflict, "copy already running");
      it->second.running = true;
      return {};
    }
  }
  if (auto ok = write_file_atomic((dir_ / key).string(), job.target.str() + "\n"); !ok) return ok;
  std::lock_guard lock(mu_);
  auto [it, fresh] = jobs_.emplace(key, Entry{job, now, now});
  if (running) {
    if (!fresh && it->second.running) return Error(Errc::conflict, "copy already running");
    it->second.running = true;
  }
  return {};
}

void ReplicaQueue::release(const CopyJob& job) {
  std::lock_guard lock(mu_);
  if (auto it = jobs_.find(job.key()); it != jobs_.end()) it->second.running = false;
}

std::optional<CopyJob> ReplicaQueue::next(Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto& [key, e] : jobs_) {
    if (!e.running && e.due <= now) {
      e.running = true;
      return e.job;
    }
  }
  return std::nullopt;
}

void ReplicaQueue::done(const CopyJob& job) {
  const std::string key = job.key();
  std::lock_guard lock(mu_);
  if (jobs_.erase(key) == 0) return;
  ::unlink((dir_ / key).c_str());
}

void ReplicaQueue::failed(const CopyJob& job, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(job.key());
  if (it == jobs_.end()) return;
  Entry& e = it->second;
  e.running = false;
  e.failures = std::min(e.failures + 1, 16u);
  auto wait = kFirstRetry * (1u << std::min(e.failures - 1, 6u));
  e.due = now + std::min<std::chrono::milliseconds>(wait, kMaxRetry);
}

size_t ReplicaQueue::size() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

size_t ReplicaQueue::running() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(
      std::count_if(jobs_.begin(), jobs_.end(), [](const auto& kv) { return kv.second.running; }));
}

std::chrono::milliseconds ReplicaQueue::oldest(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  std::chrono::milliseconds age{0};
  for (const auto& [key, e] : jobs_) {
    age = std::max(age, std::chrono::duration_cast<std::chrono::milliseconds>(now - e.added));
  }
  return age;
}

std::vector<CopyJob> ReplicaQueue::jobs_for(const Digest& d) const {
  std::lock_guard lock(mu_);
  std::vector<CopyJob> out;
  const std::string prefix = d.hex() + ".";
  for (auto it = jobs_.lower_bound(prefix); it != jobs_.end() && it->first.starts_with(prefix);
       ++it) {
    out.push_back(it->second.job);
  }
  return out;
}

}  // namespace shoal::origin
