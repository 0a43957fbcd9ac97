// Which pieces of a download readers may see: those that passed their hash. With the
// agent's disk back end (blob_disk_io.h) a piece passes only if the bytes its hash job
// saw were written to the file: one worker runs a piece's writes before its hash job,
// and a block whose write failed is read back from the file for its leaf. The flush
// issued once the torrent finished makes every piece readable (an event lost on the
// way costs nothing then). Sans-I/O: fed libtorrent's events, queried by the streaming
// readers.
#pragma once

#include <cstdint>
#include <vector>

#include "peer/piece_index.h"

namespace shoal::peer {

class PieceTracker {
 public:
  // blob_size > 0; piece_size > 0.
  PieceTracker(uint64_t blob_size, uint32_t piece_size);

  uint32_t piece_count() const { return piece_count_; }
  uint32_t piece_size() const { return piece_size_; }
  uint64_t blob_size() const { return blob_size_; }
  uint64_t piece_offset(PieceIndex p) const { return uint64_t{p.value} * piece_size_; }
  uint64_t piece_length(PieceIndex p) const;
  PieceIndex piece_at(uint64_t offset) const {
    return PieceIndex{static_cast<uint32_t>(offset / piece_size_)};
  }

  // Events. Out-of-range indices are ignored (they come from another library).
  void piece_passed(PieceIndex p);
  void all_flushed();  // the torrent finished and its writes are on disk

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
  std::vector<bool> passed_;  // per piece
  uint32_t passed_count_ = 0;
};

}  // namespace shoal::peer
