// BitTorrent metainfo (.torrent) for a blob: BitTorrent v2 only (BEP 52), SHA-256
// Merkle piece hashes, one file named by the blob's digest hex. Made from the blob's
// bytes in one streaming pass (no second read), bencoded through libtorrent's
// create_torrent, and loaded back with parse_and_bind(), which refuses a metainfo
// that is not bound to the digest the caller asked for.
//
// This header deliberately carries no libtorrent types, so code that only stores or
// serves metainfo compiles without libtorrent's headers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "core/sha256.h"

namespace shoal {

// BEP 52 leaf size: every file is hashed in 16 KiB blocks (the last one short).
inline constexpr uint32_t kMetainfoBlockSize = 16 * 1024;
inline constexpr uint32_t kMinPieceSize = 256 * 1024;
inline constexpr uint32_t kMaxPieceSize = 16 * 1024 * 1024;
// parse_and_bind() refuses larger .torrent buffers (a 1 TiB blob with 16 MiB pieces
// has a 2 MiB piece layer).
inline constexpr size_t kMaxMetainfoBytes = 8 * 1024 * 1024;

// Piece size for a blob of `blob_size` bytes: the smallest power of two that keeps
// the blob at or under 2048 pieces, clamped to [256 KiB, 16 MiB]:
//
//   blob size            piece size   pieces
//   ≤ 512 MiB            256 KiB      1 … 2048
//   (512 MiB, 1 GiB]     512 KiB      1025 … 2048
//   (1 GiB, 2 GiB]       1 MiB        1025 … 2048
//   (2 GiB, 4 GiB]       2 MiB        1025 … 2048
//   (4 GiB, 8 GiB]       4 MiB        1025 … 2048
//   (8 GiB, 16 GiB]      8 MiB        1025 … 2048
//   > 16 GiB             16 MiB       > 1024 (64 GiB → 4096)
//
// 1000–2000 pieces let many peers work on different pieces at once and make the
// first piece (time to first byte) small; below 256 KiB the per-piece costs (HAVE
// messages, hash checks, picker state) dominate; above 16 MiB one bad peer costs a
// large re-download.
uint32_t piece_size_for(uint64_t blob_size);

using InfoHashV2 = std::array<uint8_t, 32>;       // SHA-256 of the bencoded info dict
using AnnouncedInfoHash = std::array<uint8_t, 20>;  // its first 20 bytes (trackers, peers)

// What a verified metainfo says. Built by MetainfoBuilder or parse_and_bind().
struct ParsedMetainfo {
  Digest digest = Digest::from_bytes({});
  uint64_t size = 0;
  uint32_t piece_size = 0;
  uint32_t piece_count = 0;
  InfoHashV2 info_hash{};
  AnnouncedInfoHash announced_hash{};  // what libtorrent sends to trackers and peers
  std::array<uint8_t, 32> pieces_root{};  // BEP 52 Merkle root of the file
  // The hash of each piece: the piece layer, or the pieces root for a one-piece blob.
  std::vector<std::array<uint8_t, 32>> piece_hashes;

  std::string info_hash_hex() const { return to_hex(info_hash.data(), info_hash.size()); }
  std::string announced_hash_hex() const {
    return to_hex(announced_hash.data(), announced_hash.size());
  }
};

struct Metainfo : ParsedMetainfo {
  std::string bencoded;  // the .torrent file
};

struct MetainfoOptions {
  // 0: piece_size_for(size). Otherwise a power of two in [kMinPieceSize, kMaxPieceSize].
  uint32_t piece_size = 0;
  // Announce URLs, outside the info dict (they do not change the info-hash), in one
  // tier (core/torrent/announce_list.h). The origin stores metainfo without them and
  // adds its configured trackers as it serves, so the list can change freely.
  std::vector<std::string> trackers;
};

// Streams a blob's bytes in order and keeps only what the metainfo needs: the 16
// leaf hashes of the current 256 KiB "granule" and one 32-byte subtree root per
// completed granule (128 KiB per GiB). finish() folds granules into the piece layer
// for whatever piece size the total size calls for, so the size need not be known
// up front. One OpenSSL context is reused for every block.
class MetainfoBuilder {
 public:
  // v2-only metainfo; the size need not be known in advance.
  MetainfoBuilder() = default;
  // Hybrid v1+v2 metainfo for a blob of exactly `expected_size` bytes: the v1 SHA-1
  // piece hashes need the piece size, hence the size, from the first byte on.
  // piece_size 0: piece_size_for(expected_size).
  MetainfoBuilder(uint64_t expected_size, uint32_t piece_size);

  void update(const void* data, size_t len);
  uint64_t size() const { return size_; }

  // Produces the metainfo for the bytes seen so far, named and bound to `digest`
  // (the caller vouches that the bytes hash to it: the blob store checked). Fails
  // for an empty blob (BEP 52 cannot describe zero bytes) or a bad piece size (the
  // builder is left as it was). Otherwise the builder is empty again afterwards.
  Result<Metainfo> finish(const Digest& digest, const MetainfoOptions& options = {});

  using Hash = std::array<uint8_t, 32>;

 private:
  void close_block();
  void close_granule();
  void update_v1(const uint8_t* p, size_t len);

  Sha256 leaf_;                 // hashes the current 16 KiB block
  Sha256 node_;                 // interior Merkle nodes
  uint32_t block_fill_ = 0;     // bytes in the current block
  std::array<Hash, 16> leaves_{};
  size_t leaf_count_ = 0;       // leaves in the current granule
  std::vector<Hash> granules_;  // roots of completed 256 KiB subtrees
  uint64_t size_ = 0;

  // Hybrid only: SHA-1 of each v1 piece.
  std::optional<uint64_t> expected_size_;
  uint32_t v1_piece_size_ = 0;
  uint32_t v1_fill_ = 0;  // bytes of the current v1 piece
  Sha1 v1_;
  std::vector<Sha1::Hash> v1_pieces_;
};

// The BEP 52 hash of one piece from its bytes, to compare with
// ParsedMetainfo::piece_hashes: the Merkle root of its 16 KiB blocks, padded with
// zero leaves to a full piece (or, for a blob of one piece, to a power of two).
std::array<uint8_t, 32> v2_piece_hash(const char* data, size_t len, uint32_t piece_size,
                                      bool only_piece);
// The same from the SHA-256 of each of the piece's 16 KiB blocks (its leaves).
std::array<uint8_t, 32> v2_piece_root(const std::array<uint8_t, 32>* leaves, size_t count,
                                      uint32_t piece_size, bool only_piece);

// Streams the file at `path` (1 MiB reads) through a MetainfoBuilder.
Result<Metainfo> metainfo_from_file(const std::string& path, const Digest& digest,
                                    const MetainfoOptions& options = {});

// Loads a .torrent with libtorrent and accepts it only if it is a v2-only,
// single-file torrent whose name (inside the info dict, so covered by the info-hash)
// is expected.hex(), whose piece layer is present and matches its Merkle root, and,
// if given, whose size is expected_size. Malformed or foreign input gives
// Errc::protocol_error; a metainfo for another digest or size Errc::digest_mismatch.
// Never throws.
Result<ParsedMetainfo> parse_and_bind(std::string_view bencoded, const Digest& expected,
                                      std::optional<uint64_t> expected_size = std::nullopt);

}  // namespace shoal
