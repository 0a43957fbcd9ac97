// Which pieces of a download readers may see: those that both passed their hash and
// had every block reported written. With the agent's disk back end (blob_disk_io.h) a
// piece's hash job runs after its writes, so the two agree; the block events still
// guard the order of events as libtorrent delivers them. The flush issued once the
// torrent finished makes every piece readable (an event lost on the way costs nothing
// then). Sans-I/O: fed libtorrent's events, queried by the streaming readers.
#pragma once

#include <cstdint>
#include <vector>

#include "peer/piece_index.h"

namespace shoal::peer {

class PieceTracker {
 public:
  // blob_size > 0; piece_size a multiple of the 16 KiB block size.
  PieceTracker(uint64_t blob_size, uint32_t piece_size);

  uint32_t piece_count() const { return piece_count_; }
  uint32_t piece_size() const { return piece_size_; }
  uint64_t blob_size() const { return blob_size_; }
  uint32_t blocks_in(PieceIndex p) const;
  uint64_t piece_offset(PieceIndex p) const { return uint64_t{p.value} * piece_size_; }
  uint64_t piece_length(PieceIndex p) const;
  PieceIndex piece_at(uint64_t offset) const {
    return PieceIndex{static_cast<uint32_t>(offset / piece_size_)};
  }

  // Events. Out-of-range indices are ignored (they come from another library).
  void block_written(PieceIndex p, uint32_t block);
  void piece_passed(PieceIndex p);
  void hash_failed(PieceIndex p);  // its blocks will be downloaded and written again
  void all_flushed();              // the torrent finished and its writes are on disk

  bool readable(PieceIndex p) const;
  // One past the last byte of the run of readable pieces starting at p (p's offset
  // when p is not readable).
  uint64_t readable_end(PieceIndex p) const;
  uint32_t passed_count() const { return passed_count_; }
  bool all_passed() const { return passed_count_ == piece_count_; }

 private:
  uint64_t blob_size_;
  uint32_t piece_size_;
  uint32_t piece_count_;
  uint32_t blocks_per_piece_;
  std::vector<bool> written_;            // per block
  std::vector<uint32_t> written_count_;  // per piece
  std::vector<bool> passed_;             // per piece
  uint32_t passed_count_ = 0;
  bool flushed_ = false;
};

}  // namespace shoal::peer
