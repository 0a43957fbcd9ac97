#include "origin/upload_session.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "origin/names.h"

namespace shoal::origin {
namespace fs = std::filesystem;

UploadLease::UploadLease(UploadManager& m, std::string id, UniqueFd fd, uint64_t offset,
                         std::unique_ptr<Sha256> hash)
    : manager_(&m),
      id_(std::move(id)),
      fd_(std::move(fd)),
      offset_(offset),
      hash_(std::move(hash)) {}

UploadLease::UploadLease(UploadLease&& o) noexcept
    : manager_(o.manager_), id_(std::move(o.id_)), fd_(std::move(o.fd_)), offset_(o.offset_),
      hash_(std::move(o.hash_)), done_(std::exchange(o.done_, true)) {}

UploadLease::~UploadLease() { release(); }

void UploadLease::release() {
  if (done_) return;
  done_ = true;
  manager_->release(id_, std::move(fd_), offset_, std::move(hash_));
}

Result<void> UploadLease::append(const void* data, size_t len) {
  if (offset_ + len > manager_->max_size()) {
    return Error(Errc::too_large, "upload would exceed max_upload_size");
  }
  auto ok = write_all(fd_.get(), data, len);
  if (!ok) {
    // Keep the session consistent with what is surely on disk.
    if (::ftruncate(fd_.get(), static_cast<off_t>(offset_)) == 0) {
      ::lseek(fd_.get(), static_cast<off_t>(offset_), SEEK_SET);
    }
    return ok;
  }
  if (hash_) hash_->update(data, len);
  offset_ += len;
  return {};
}

std::optional<Digest> UploadLease::finish_hash() {
  if (!hash_) return std::nullopt;
  return hash_->finish();
}

UploadManager::UploadManager(fs::path dir, uint64_t max_size,
                             std::chrono::milliseconds idle_timeout)
    : dir_(std::move(dir)), max_size_(max_size), idle_timeout_(idle_timeout) {}

Result<void> UploadManager::load(Clock::time_point now) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Error(Errc::io_error, "creating " + dir_.string() + ": " + ec.message());
  std::lock_guard lock(mu_);
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string id = entry.path().filename().string();
    if (!valid_upload_id(id) || !entry.is_regular_file(ec)) {
      fs::remove_all(entry.path(), ec);  // not ours: a stray temporary
      continue;
    }
    sessions_[id] = Session{UploadState{entry.file_size(ec), now, false}, nullptr};
  }
  return {};
}

Result<std::string> UploadManager::create(Clock::time_point now) {
  std::string id = random_hex(16);
  UniqueFd fd(::open(path_of(id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return errno_error(errno, "creating upload session");
  std::lock_guard lock(mu_);
  sessions_[id] = Session{UploadState{0, now, false}, std::make_unique<Sha256>()};
  return id;
}

Result<void> UploadManager::create_as(const std::string& id, Clock::time_point now) {
  UniqueFd fd(::open(path_of(id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    if (errno == EEXIST) return Error(Errc::conflict, "upload session " + id + " exists");
    return errno_error(errno, "creating upload session");
  }
  std::lock_guard lock(mu_);
  sessions_[id] = Session{UploadState{0, now, false}, std::make_unique<Sha256>()};
  return {};
}

Result<UniqueFd> UploadManager::open_read(const std::string& id) const {
  UniqueFd fd(::open(path_of(id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "opening upload session " + id);
  return fd;
}

Result<uint64_t> UploadManager::offset(const std::string& id, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return Error(Errc::not_found, "no upload session " + id);
  it->second.state.last_active = now;
  return it->second.state.offset;
}

Result<UploadLease> UploadManager::acquire(const std::string& id,
                                           const std::optional<http::ByteRange>& range,
                                           Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return Error(Errc::not_found, "no upload session " + id);
  UploadState& st = it->second.state;
  if (st.busy) return Error(Errc::conflict, "another request is writing to upload " + id);
  if (!st.accepts(range)) {
    return Error(Errc::range_not_satisfiable,
                 "chunk starts at " + std::to_string(range->first) + " but the upload is at " +
                     std::to_string(st.offset));
  }
  UniqueFd fd(::open(path_of(id).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "opening upload session " + id);
  st.busy = true;
  st.last_active = now;
  return UploadLease(*this, id, std::move(fd), st.offset, std::move(it->second.hash));
}

void UploadManager::release(const std::string& id, UniqueFd fd, uint64_t offset,
                            std::unique_ptr<Sha256> hash) {
  fd.reset();
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  it->second.state = UploadState{offset, Clock::now(), false};
  it->second.hash = std::move(hash);
}

Result<BlobStore::Committed> UploadManager::commit(UploadLease& lease, const Digest& digest,
                                                   BlobStore& store) {
  std::optional<Digest> actual = lease.finish_hash();
  if (!actual) {
    // Part of the data arrived before a restart: hash the file once now.
    UniqueFd rd(::open(path_of(lease.id()).c_str(), O_RDONLY | O_CLOEXEC));
    if (!rd.valid()) return errno_error(errno, "reopening upload " + lease.id());
    auto h = Sha256::of_fd(rd.get());
    if (!h) return h.error();
    actual = *h;
  }
  if (*actual != digest) {
    remove(lease);
    return Error(Errc::digest_mismatch,
                 "upload hashes to " + actual->str() + ", not " + digest.str());
  }
  auto placed = store.adopt(path_of(lease.id()), digest);
  if (placed) remove(lease);
  return placed;
}

void UploadManager::remove(UploadLease& lease) {
  lease.done_ = true;
  lease.fd_.reset();
  ::unlink(path_of(lease.id()).c_str());
  std::lock_guard lock(mu_);
  sessions_.erase(lease.id());
}

Result<void> UploadManager::remove(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return Error(Errc::not_found, "no upload session " + id);
    if (it->second.state.busy) return Error(Errc::conflict, "upload " + id + " is in use");
    sessions_.erase(it);
  }
  ::unlink(path_of(id).c_str());
  return {};
}

size_t UploadManager::sweep(Clock::time_point now) {
  std::vector<std::string> expired;
  {
    std::lock_guard lock(mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second.state.idle(now, idle_timeout_)) {
        expired.push_back(it->first);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& id : expired) ::unlink(path_of(id).c_str());
  return expired.size();
}

size_t UploadManager::count() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace shoal::origin
