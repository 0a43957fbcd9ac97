#include "core/store/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace shoal {
namespace fs = std::filesystem;
namespace {

// Start writeback every this many bytes so the fsync at commit has little left to do.
constexpr uint64_t kWritebackChunk = 32ull << 20;

Result<void> make_dir(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) return Error(Errc::io_error, "creating " + p.string() + ": " + ec.message());
  return {};
}

}  // namespace

TempBlob::~TempBlob() {
  if (!committed_ && fd_.valid()) ::unlink(path_.c_str());
}

Result<void> TempBlob::append(const void* data, size_t len) {
  auto ok = write_all(fd_.get(), data, len);
  if (!ok) return ok;
  hash_.update(data, len);
  size_ += len;
  if (size_ - flushed_ >= kWritebackChunk) {
    ::sync_file_range(fd_.get(), static_cast<off_t>(flushed_), static_cast<off_t>(size_ - flushed_),
                      SYNC_FILE_RANGE_WRITE);
    flushed_ = size_;
  }
  return {};
}

Result<std::unique_ptr<BlobStore>> BlobStore::open(const fs::path& root) {
  std::unique_ptr<BlobStore> store(new BlobStore(fs::absolute(root)));
  for (const char* sub : {"blobs/sha256", "tmp"}) {
    if (auto ok = make_dir(store->root_ / sub); !ok) return ok.error();
  }
  // Whatever is in tmp/ was being written when a previous process died.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(store->root_ / "tmp", ec)) {
    fs::remove_all(entry.path(), ec);
  }
  if (auto ok = store->scan(); !ok) return ok.error();
  return store;
}

Result<void> BlobStore::scan() {
  std::error_code ec;
  uint64_t bytes = 0, count = 0;
  for (auto it = fs::recursive_directory_iterator(root_ / "blobs", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      bytes += it->file_size(ec);
      ++count;
    }
  }
  if (ec)
    return Error(Errc::io_error, "scanning " + (root_ / "blobs").string() + ": " + ec.message());
  bytes_ = bytes;
  count_ = count;
  return {};
}

std::string BlobStore::path_of(const Digest& d) const {
  std::string hex = d.hex();
  return (root_ / "blobs/sha256" / hex.substr(0, 2) / hex).string();
}

bool BlobStore::contains(const Digest& d) const {
  struct stat st {};
  return ::stat(path_of(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<BlobFile> BlobStore::open_blob(const Digest& d) const {
  UniqueFd fd(::open(path_of(d).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Error(Errc::not_found, "no blob " + d.str());
    return errno_error(errno, "opening blob " + d.str());
  }
  auto size = file_size(fd.get());
  if (!size) return size.error();
  return BlobFile{std::move(fd), *size};
}

Result<TempBlob> BlobStore::create_temp() {
  std::string path = (root_ / "tmp" / random_hex(16)).string();
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return errno_error(errno, "creating temporary blob");
  return TempBlob(std::move(fd), std::move(path));
}

Result<void> TempBlob::verify(const Digest& expected) {
  Digest actual = hash_.finish();
  if (actual != expected) {
    return Error(Errc::digest_mismatch,
                 "body hashes to " + actual.str() + ", not " + expected.str());
  }
  return {};
}

Result<BlobStore::Committed> BlobStore::commit(TempBlob& temp, const Digest& expected) {
  Digest actual = temp.hash_.finish();
  if (actual != expected) {
    return Error(Errc::digest_mismatch,
                 "body hashes to " + actual.str() + ", not " + expected.str());
  }
  if (auto ok = fsync_fd(temp.fd(), "temporary blob"); !ok) return ok.error();
  auto placed = place(temp.path_, expected, temp.size_);
  if (placed) temp.committed_ = placed.value() == Committed::created;
  return placed;
}

Result<BlobStore::Committed> BlobStore::adopt(const std::string& path, const Digest& digest) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "opening " + path);
  auto size = file_size(fd.get());
  if (!size) return size.error();
  if (auto ok = fsync_fd(fd.get(), path); !ok) return ok.error();
  auto placed = place(path, digest, *size);
  if (placed && *placed == Committed::already_present) ::unlink(path.c_str());
  return placed;
}

Result<BlobStore::Committed> BlobStore::place(const std::string& from, const Digest& d,
                                              uint64_t size) {
  std::string to = path_of(d);
  std::lock_guard lock(place_mu_);
  if (contains(d)) return Committed::already_present;
  std::string dir = fs::path(to).parent_path().string();
  if (auto ok = make_dir(dir); !ok) return ok.error();
  if (::rename(from.c_str(), to.c_str()) != 0)
    return errno_error(errno, "renaming blob into place");
  if (auto ok = fsync_dir(dir); !ok) return ok.error();
  bytes_ += size;
  ++count_;
  return Committed::created;
}

Result<void> BlobStore::moved_in(const Digest& d) {
  std::string path = path_of(d);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_error(errno, "finding moved blob " + d.str());
  if (auto ok = fsync_dir(fs::path(path).parent_path().string()); !ok) return ok.error();
  bytes_ += static_cast<uint64_t>(st.st_size);
  ++count_;
  return {};
}

Result<void> BlobStore::remove(const Digest& d) {
  std::string path = path_of(d);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error(Errc::not_found, "no blob " + d.str());
  if (::unlink(path.c_str()) != 0) return errno_error(errno, "removing blob " + d.str());
  bytes_ -= static_cast<uint64_t>(st.st_size);
  --count_;
  return {};
}

std::vector<Digest> BlobStore::list() const {
  std::vector<Digest> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_ / "blobs/sha256", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    auto d = Digest::parse(std::string(Digest::kPrefix) + it->path().filename().string());
    if (d) out.push_back(*d);
  }
  return out;
}

}  // namespace shoal
