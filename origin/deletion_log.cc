#include "origin/deletion_log.h"

#include <fcntl.h>

#include <stdexcept>

#include "core/file_io.h"

namespace shoal::origin {

DeletionLog::DeletionLog(std::filesystem::path file) : file_(std::move(file)) {
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) return;
  const uint64_t bytes = std::filesystem::file_size(file_, ec);
  auto text = read_small_file(file_.string(), static_cast<size_t>(bytes));
  if (!text) throw std::runtime_error("cannot read " + file_.string() + ": " + text.error().message);
  size_t at = 0;
  while (at < text->size()) {
    size_t nl = text->find('\n', at);
    if (nl == std::string::npos) break;  // torn by a crash: never acknowledged
    auto d = Digest::parse(std::string_view(*text).substr(at, nl - at));
    if (d) entries_.push_back(*d);
    at = nl + 1;
  }
}

Result<void> DeletionLog::append(const std::vector<Digest>& removed) {
  if (removed.empty()) return {};
  std::string lines;
  for (const Digest& d : removed) lines += d.str() + "\n";
  std::lock_guard lock(mu_);
  UniqueFd fd(::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return errno_error(errno, "opening " + file_.string());
  if (auto ok = write_all(fd.get(), lines.data(), lines.size()); !ok) return ok;
  if (auto ok = fsync_fd(fd.get(), file_.string()); !ok) return ok;
  entries_.insert(entries_.end(), removed.begin(), removed.end());
  return {};
}

DeletionLog::Page DeletionLog::since(uint64_t since, size_t limit) const {
  std::lock_guard lock(mu_);
  Page page;
  uint64_t at = std::min<uint64_t>(since, entries_.size());
  while (at < entries_.size() && page.digests.size() < limit) page.digests.push_back(entries_[at++]);
  page.next = at;
  return page;
}

uint64_t DeletionLog::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace shoal::origin
