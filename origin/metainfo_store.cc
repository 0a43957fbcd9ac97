#include "origin/metainfo_store.h"

#include <unistd.h>

#include "core/file_io.h"
#include "core/torrent/metainfo.h"

namespace shoal::origin {
namespace fs = std::filesystem;

Result<void> MetainfoStore::init() {
  std::error_code ec;
  fs::create_directories(root_ / "sha256", ec);
  if (ec) return Error(Errc::io_error, "creating " + root_.string() + ": " + ec.message());
  return {};
}

std::string MetainfoStore::path_of(const Digest& d) const {
  std::string hex = d.hex();
  return (root_ / "sha256" / hex.substr(0, 2) / hex).string();
}

Result<std::string> MetainfoStore::get_or_make(const Digest& d) {
  const std::string path = path_of(d);
  if (::access(path.c_str(), F_OK) == 0) return read_small_file(path, kMaxMetainfoBytes);
  std::lock_guard lock(make_mu_);
  if (::access(path.c_str(), F_OK) == 0) return read_small_file(path, kMaxMetainfoBytes);
  auto blob = blobs_.open_blob(d);
  if (!blob) return blob.error();
  if (blob->size == 0) return Error(Errc::not_found, "an empty blob has no pieces and no metainfo");
  MetainfoOptions options;
  options.piece_size = piece_size_;
  auto made = metainfo_from_file(blobs_.path_of(d), d, options);
  if (!made) return made.error();
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Error(Errc::io_error, "creating " + fs::path(path).parent_path().string());
  if (auto ok = write_file_atomic(path, made->bencoded); !ok) return ok.error();
  return std::move(made->bencoded);
}

void MetainfoStore::remove(const Digest& d) { ::unlink(path_of(d).c_str()); }

}  // namespace shoal::origin
