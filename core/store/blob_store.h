// Content-addressed store on disk. Layout under the data directory:
//   blobs/sha256/<first 2 hex>/<64 hex>   committed blobs, read-only once there
//   tmp/                                   blobs being written (removed at start-up)
// A blob appears under its digest only by rename(2) of a fully written, fsynced
// file whose bytes were hashed to that digest, so no reader can see a partial blob.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/sha256.h"

namespace shoal {

struct BlobFile {
  UniqueFd fd;
  uint64_t size = 0;
};

// A blob being written: bytes are hashed as they are appended, so commit costs no
// second pass. Destroying an uncommitted TempBlob removes its file.
class TempBlob {
 public:
  TempBlob(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  ~TempBlob();
  TempBlob(TempBlob&&) noexcept = default;
  TempBlob& operator=(TempBlob&&) = delete;
  TempBlob(const TempBlob&) = delete;

  Result<void> append(const void* data, size_t len);
  // Checks what was appended against `expected` without storing it (bytes passed
  // through to clients only). Errc::digest_mismatch; the blob cannot be committed after.
  Result<void> verify(const Digest& expected);
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

 private:
  friend class BlobStore;
  UniqueFd fd_;
  std::string path_;
  Sha256 hash_;
  uint64_t size_ = 0;
  uint64_t flushed_ = 0;  // bytes handed to writeback so far
  bool committed_ = false;
};

class BlobStore {
 public:
  // Creates the layout if needed, removes leftovers in tmp/, and sums what is stored.
  static Result<std::unique_ptr<BlobStore>> open(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }
  std::string path_of(const Digest& d) const;
  bool contains(const Digest& d) const;
  Result<BlobFile> open_blob(const Digest& d) const;

  Result<TempBlob> create_temp();
  enum class Committed { created, already_present };
  // Verifies the hash of what was appended, fsyncs and renames into place. On a
  // mismatch the temporary is removed and Errc::digest_mismatch returned.
  Result<Committed> commit(TempBlob& temp, const Digest& expected);
  // Adopts a file elsewhere in the same filesystem (an upload session's data)
  // whose bytes the caller has already hashed to `digest`.
  Result<Committed> adopt(const std::string& path, const Digest& digest);
  // Counts a blob that another component (libtorrent's move) renamed to path_of(d)
  // after the caller verified and fsynced it; makes the rename durable.
  Result<void> moved_in(const Digest& d);
  Result<void> remove(const Digest& d);
  // Every committed blob's digest (a directory walk: for start-up, not hot paths).
  std::vector<Digest> list() const;

  uint64_t total_bytes() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t blob_count() const { return count_.load(std::memory_order_relaxed); }

 private:
  explicit BlobStore(std::filesystem::path root) : root_(std::move(root)) {}
  Result<void> scan();
  Result<Committed> place(const std::string& from, const Digest& d, uint64_t size);

  std::filesystem::path root_;
  std::mutex place_mu_;  // makes check-then-rename and the counters one step
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> count_{0};
};

}  // namespace shoal
