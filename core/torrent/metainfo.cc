#include "core/torrent/metainfo.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <iterator>
#include <utility>

#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/create_torrent.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/torrent_info.hpp>

#include "core/file_io.h"
#include "core/torrent/announce_list.h"

namespace shoal {

namespace lt = libtorrent;

namespace {

using Hash = MetainfoBuilder::Hash;

constexpr size_t kLeavesPerGranule = kMinPieceSize / kMetainfoBlockSize;  // 16
constexpr uint32_t kMaxPiecesTarget = 2048;
// parse_and_bind accepts any v2 piece size in this range, not only what this
// version's table picks, so a later table change keeps old metainfo loadable.
constexpr uint32_t kParseMinPieceSize = kMetainfoBlockSize;
constexpr uint32_t kParseMaxPieceSize = 64 * 1024 * 1024;

static_assert(kLeavesPerGranule == 16);

bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

uint64_t next_pow2(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

Hash to_hash(const Digest& d) {
  Hash h;
  std::memcpy(h.data(), d.bytes().data(), h.size());
  return h;
}

Hash hash_pair(Sha256& node, const Hash& left, const Hash& right) {
  node.update(left.data(), left.size());
  node.update(right.data(), right.size());
  return to_hash(node.finish());
}

// Root of a complete subtree of `height` levels whose leaves are all zero hashes
// (BEP 52 pads past the end of a file with zero leaves).
Hash zero_subtree(Sha256& node, int height) {
  Hash h{};
  for (int i = 0; i < height; ++i) h = hash_pair(node, h, h);
  return h;
}

// Merkle root over `nodes` padded with `pad` up to `width` (a power of two).
Hash merkle_root(Sha256& node, const Hash* nodes, size_t count, size_t width, const Hash& pad) {
  std::vector<Hash> level(nodes, nodes + count);
  level.resize(width, pad);
  while (level.size() > 1) {
    for (size_t i = 0; i < level.size() / 2; ++i) {
      level[i] = hash_pair(node, level[2 * i], level[2 * i + 1]);
    }
    level.resize(level.size() / 2);
  }
  return level.front();
}

Error malformed(const std::string& why) {
  return Error(Errc::protocol_error, "metainfo rejected: " + why);
}

}  // namespace

uint32_t piece_size_for(uint64_t blob_size) {
  uint64_t ps = kMinPieceSize;
  // blob_size / ps rounded up, written so that no size can overflow.
  auto pieces = [&] { return blob_size / ps + (blob_size % ps != 0 ? 1 : 0); };
  while (ps < kMaxPieceSize && pieces() > kMaxPiecesTarget) ps <<= 1;
  return static_cast<uint32_t>(ps);
}

MetainfoBuilder::MetainfoBuilder(uint64_t expected_size, uint32_t piece_size)
    : expected_size_(expected_size),
      v1_piece_size_(piece_size != 0 ? piece_size : piece_size_for(expected_size)) {}

void MetainfoBuilder::update(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (expected_size_) update_v1(p, len);
  size_ += len;
  while (len > 0) {
    size_t take = std::min<size_t>(len, kMetainfoBlockSize - block_fill_);
    leaf_.update(p, take);
    block_fill_ += static_cast<uint32_t>(take);
    p += take;
    len -= take;
    if (block_fill_ == kMetainfoBlockSize) close_block();
  }
}

void MetainfoBuilder::update_v1(const uint8_t* p, size_t len) {
  while (len > 0) {
    size_t take = std::min<size_t>(len, v1_piece_size_ - v1_fill_);
    v1_.update(p, take);
    v1_fill_ += static_cast<uint32_t>(take);
    p += take;
    len -= take;
    if (v1_fill_ == v1_piece_size_) {
      v1_pieces_.push_back(v1_.finish());
      v1_fill_ = 0;
    }
  }
}

void MetainfoBuilder::close_block() {
  leaves_[leaf_count_++] = to_hash(leaf_.finish());
  block_fill_ = 0;
  if (leaf_count_ == kLeavesPerGranule) close_granule();
}

void MetainfoBuilder::close_granule() {
  // Leaves past the end of the file are zero hashes.
  granules_.push_back(merkle_root(node_, leaves_.data(), leaf_count_, kLeavesPerGranule, Hash{}));
  leaf_count_ = 0;
}

Result<Metainfo> MetainfoBuilder::finish(const Digest& digest, const MetainfoOptions& options) {
  if (size_ == 0) {
    return Error(Errc::bad_request,
                 "an empty blob has no BitTorrent metainfo (BEP 52 needs at least one byte)");
  }
  uint32_t piece_size = options.piece_size != 0 ? options.piece_size : piece_size_for(size_);
  const bool hybrid = expected_size_.has_value();
  if (hybrid && (size_ != *expected_size_ || piece_size != v1_piece_size_)) {
    return Error(Errc::bad_request, "hybrid metainfo expected " + std::to_string(*expected_size_) +
                                        " bytes in pieces of " + std::to_string(v1_piece_size_) +
                                        ", got " + std::to_string(size_));
  }
  if (hybrid && v1_fill_ > 0) {
    v1_pieces_.push_back(v1_.finish());  // the short last v1 piece
    v1_fill_ = 0;
  }
  if (!is_pow2(piece_size) || piece_size < kMinPieceSize || piece_size > kMaxPieceSize) {
    return Error(Errc::bad_request, "piece size " + std::to_string(piece_size) +
                                        " is not a power of two in [256 KiB, 16 MiB]");
  }
  if (block_fill_ > 0) {
    leaves_[leaf_count_++] = to_hash(leaf_.finish());  // the short last block
    block_fill_ = 0;
  }
  const uint64_t blocks = (size_ + kMetainfoBlockSize - 1) / kMetainfoBlockSize;
  const uint64_t blocks_per_piece = piece_size / kMetainfoBlockSize;

  // Piece layer. A file no larger than one piece has a single "piece" hash equal to
  // its root, whose tree is only as wide as the next power of two of its block count
  // (libtorrent pads it that way too); a larger file pads its last piece with zero
  // leaves to the full piece width.
  std::vector<Hash> pieces;
  if (blocks <= kLeavesPerGranule) {
    if (granules_.empty()) {
      pieces.push_back(
          merkle_root(node_, leaves_.data(), leaf_count_, next_pow2(leaf_count_), Hash{}));
    } else {
      pieces.push_back(granules_.front());  // exactly one full granule
    }
  } else {
    if (leaf_count_ > 0) close_granule();
    const Hash granule_pad = zero_subtree(node_, 4);
    if (blocks <= blocks_per_piece) {
      pieces.push_back(merkle_root(node_, granules_.data(), granules_.size(),
                                   next_pow2(granules_.size()), granule_pad));
    } else {
      const size_t per_piece = blocks_per_piece / kLeavesPerGranule;
      for (size_t i = 0; i < granules_.size(); i += per_piece) {
        size_t n = std::min(per_piece, granules_.size() - i);
        pieces.push_back(merkle_root(node_, granules_.data() + i, n, per_piece, granule_pad));
      }
    }
  }
  // Start over empty, so a builder can be reused.
  const uint64_t size = std::exchange(size_, 0);
  leaf_count_ = 0;
  granules_.clear();
  granules_.shrink_to_fit();
  const std::vector<Sha1::Hash> v1 = std::exchange(v1_pieces_, {});

  std::string bencoded;
  try {
    lt::file_storage fs;
    fs.add_file(digest.hex(), static_cast<std::int64_t>(size));
    lt::create_torrent ct(fs, static_cast<int>(piece_size),
                          hybrid ? lt::create_flags_t{} : lt::create_torrent::v2_only);
    if (ct.files().num_files() != 1 ||
        static_cast<size_t>(ct.files().num_pieces()) != pieces.size() ||
        (hybrid && v1.size() != pieces.size())) {
      return Error(Errc::io_error, "libtorrent laid out the blob differently than expected");
    }
    for (size_t i = 0; i < v1.size(); ++i) {
      ct.set_hash(lt::piece_index_t(static_cast<int>(i)),
                  lt::sha1_hash(reinterpret_cast<const char*>(v1[i].data())));
    }
    for (size_t i = 0; i < pieces.size(); ++i) {
      ct.set_hash2(lt::file_index_t(0), lt::piece_index_t::diff_type(static_cast<int>(i)),
                   lt::sha256_hash(reinterpret_cast<const char*>(pieces[i].data())));
    }
    ct.set_creator("shoal");
    ct.set_creation_date(0);  // same bytes in, same metainfo out
    lt::entry e = ct.generate();
    if (e.find_key("creation date") != nullptr) e.dict().erase("creation date");
    lt::bencode(std::back_inserter(bencoded), e);
  } catch (const std::exception& ex) {
    return Error(Errc::io_error, std::string("creating metainfo: ") + ex.what());
  }

  if (!options.trackers.empty()) {
    auto announced = with_announce_list(bencoded, options.trackers);
    if (!announced) return announced.error();
    bencoded = std::move(*announced);
  }
  // Load what was just made through the same checks a peer applies: the facts in
  // the result are libtorrent's reading of the bytes, not this function's belief.
  auto parsed = parse_and_bind(bencoded, digest, size);
  if (!parsed) return parsed.error();
  Metainfo m;
  static_cast<ParsedMetainfo&>(m) = std::move(*parsed);
  m.bencoded = std::move(bencoded);
  return m;
}

Result<Metainfo> metainfo_from_file(const std::string& path, const Digest& digest,
                                    const MetainfoOptions& options) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "opening " + path + " for metainfo");
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  auto size = file_size(fd.get());
  if (!size) return size.error();
  std::vector<char> buf(1 << 20);
  MetainfoBuilder builder(*size, options.piece_size);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(errno, "reading " + path + " for metainfo");
    }
    if (n == 0) break;
    builder.update(buf.data(), static_cast<size_t>(n));
  }
  return builder.finish(digest, options);
}

std::array<uint8_t, 32> v2_piece_root(const std::array<uint8_t, 32>* leaves, size_t count,
                                      uint32_t piece_size, bool only_piece) {
  size_t width = only_piece ? next_pow2(count) : piece_size / kMetainfoBlockSize;
  Sha256 node;
  return merkle_root(node, leaves, count, std::max<size_t>(width, 1), Hash{});
}

std::array<uint8_t, 32> v2_piece_hash(const char* data, size_t len, uint32_t piece_size,
                                      bool only_piece) {
  Sha256 leaf;
  std::vector<Hash> leaves;
  leaves.reserve((len + kMetainfoBlockSize - 1) / kMetainfoBlockSize);
  for (size_t off = 0; off < len; off += kMetainfoBlockSize) {
    leaf.update(data + off, std::min<size_t>(kMetainfoBlockSize, len - off));
    leaves.push_back(to_hash(leaf.finish()));
  }
  return v2_piece_root(leaves.data(), leaves.size(), piece_size, only_piece);
}

Result<ParsedMetainfo> parse_and_bind(std::string_view bencoded, const Digest& expected,
                                      std::optional<uint64_t> expected_size) {
  if (bencoded.empty()) return malformed("empty");
  if (bencoded.size() > kMaxMetainfoBytes) {
    return malformed("larger than " + std::to_string(kMaxMetainfoBytes) + " bytes");
  }
  try {
    lt::error_code ec;
    int pos = 0;
    lt::bdecode_node root = lt::bdecode(
        lt::span<const char>(bencoded.data(), static_cast<std::ptrdiff_t>(bencoded.size())), ec,
        &pos, /*depth_limit=*/32, /*token_limit=*/100000);
    if (ec) return malformed("bad bencoding at byte " + std::to_string(pos) + ": " + ec.message());
    if (root.type() != lt::bdecode_node::dict_t) return malformed("not a dictionary");

    lt::torrent_info ti(root, ec);
    if (ec) return malformed(ec.message());
    if (!ti.is_valid()) return malformed("no info dictionary");
    if (!ti.v2()) return malformed("not a BitTorrent v2 torrent");
    // Hybrid (v1+v2) is what Shoal makes; v2-only is accepted too; v1-only is not.
    // libtorrent pads a v2 file to a piece boundary with a pad file of its own
    // making; anything else than one real file first is not a Shoal blob.
    const lt::file_storage& fs = ti.files();
    const lt::file_index_t f0(0);
    if (fs.num_files() < 1 || fs.pad_file_at(f0)) return malformed("no file");
    for (lt::file_index_t f : fs.file_range()) {
      if (f != f0 && !fs.pad_file_at(f)) return malformed("more than one file");
    }
    const std::string hex = expected.hex();
    if (ti.name() != hex || fs.file_path(f0) != hex) {
      return Error(Errc::digest_mismatch, "metainfo names " + ti.name().substr(0, 80) +
                                              ", not the requested blob " + expected.str());
    }
    const int64_t size = fs.file_size(f0);
    if (size <= 0) return malformed("bad file length");
    if (expected_size && static_cast<uint64_t>(size) != *expected_size) {
      return Error(Errc::digest_mismatch, "metainfo says " + std::to_string(size) +
                                              " bytes, the blob has " +
                                              std::to_string(*expected_size));
    }
    const int piece_size = ti.piece_length();
    if (piece_size < 0 || !is_pow2(static_cast<uint64_t>(piece_size)) ||
        static_cast<uint32_t>(piece_size) < kParseMinPieceSize ||
        static_cast<uint32_t>(piece_size) > kParseMaxPieceSize) {
      return malformed("unsupported piece length " + std::to_string(piece_size));
    }
    const int64_t expect_pieces = (size + piece_size - 1) / piece_size;
    if (ti.num_pieces() != expect_pieces) return malformed("piece count does not match the length");
    // A multi-piece file must carry its piece layer, verified by libtorrent against
    // the root; otherwise a peer could not check pieces before asking others.
    // libtorrent 2.0.8 records the layer here but checks it against the root only
    // once the torrent is in a session, so check it now.
    const lt::sha256_hash root_hash = fs.root(f0);
    if (root_hash.is_all_zeros()) return malformed("no pieces root");
    std::vector<Hash> pieces(1);
    std::memcpy(pieces[0].data(), root_hash.data(), pieces[0].size());
    if (expect_pieces > 1) {
      const lt::span<const char> layer = ti.piece_layer(f0);
      if (!ti.v2_piece_hashes_verified() || layer.size() != expect_pieces * 32) {
        return malformed("piece layer missing or of the wrong size");
      }
      pieces.resize(static_cast<size_t>(expect_pieces));
      std::memcpy(pieces.data(), layer.data(), static_cast<size_t>(layer.size()));
      Sha256 node;
      int height = 0;
      while ((kMetainfoBlockSize << height) < static_cast<uint32_t>(piece_size)) ++height;
      const Hash computed = merkle_root(node, pieces.data(), pieces.size(),
                                        next_pow2(pieces.size()), zero_subtree(node, height));
      if (std::memcmp(computed.data(), root_hash.data(), computed.size()) != 0) {
        return malformed("piece layer does not hash to the pieces root");
      }
    }

    ParsedMetainfo out;
    out.digest = expected;
    out.size = static_cast<uint64_t>(size);
    out.piece_size = static_cast<uint32_t>(piece_size);
    out.piece_count = static_cast<uint32_t>(expect_pieces);
    const lt::info_hash_t ih = ti.info_hashes();
    std::memcpy(out.info_hash.data(), ih.v2.data(), out.info_hash.size());
    const lt::sha1_hash announced = ih.get_best();
    std::memcpy(out.announced_hash.data(), announced.data(), out.announced_hash.size());
    std::memcpy(out.pieces_root.data(), root_hash.data(), out.pieces_root.size());
    out.piece_hashes = std::move(pieces);
    return out;
  } catch (const std::exception& ex) {
    return malformed(ex.what());
  }
}

}  // namespace shoal
