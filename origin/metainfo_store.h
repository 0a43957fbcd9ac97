// The metainfo (.torrent) of each blob, made once from the stored bytes and kept
// under <data>/metainfo/sha256/<2 hex>/<64 hex>, written atomically like blobs.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>

#include "core/store/blob_store.h"
#include "core/digest.h"
#include "core/error.h"

namespace shoal::origin {

class MetainfoStore {
 public:
  // piece_size 0: piece_size_for(blob size); else a power of two in [256 KiB, 16 MiB].
  MetainfoStore(std::filesystem::path root, BlobStore& blobs, uint32_t piece_size = 0)
      : root_(std::move(root)), blobs_(blobs), piece_size_(piece_size) {}
  Result<void> init();

  // The bencoded metainfo, made from the blob on first use. Errc::not_found when
  // the blob is unknown or empty (BEP 52 cannot describe zero bytes). Blocks while
  // hashing: call it through http::offload.
  Result<std::string> get_or_make(const Digest& d);
  void remove(const Digest& d);

 private:
  std::string path_of(const Digest& d) const;
  std::filesystem::path root_;
  BlobStore& blobs_;
  uint32_t piece_size_ = 0;
  std::mutex make_mu_;  // one blob hashed at a time; readers of existing files don't wait
};

}  // namespace shoal::origin
