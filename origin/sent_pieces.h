// Which pieces of one seeded blob have wholly left the origin: every 16 KiB block of
// the piece sent at least once, to any peer. Fed one block at a time (libtorrent's
// block_uploaded_alert); sans-I/O, so the bookkeeping is unit-tested without a swarm.
#pragma once

#include <cstdint>
#include <vector>

#include "core/torrent/piece_index.h"

namespace shoal::origin {

class SentPieces {
 public:
  static constexpr uint32_t kBlockSize = 16 * 1024;  // BitTorrent's request size

  SentPieces(uint64_t total_size, uint32_t piece_length);

  // Counts block `block` of `piece`; out-of-range indices (a hostile or confused
  // alert) are ignored. Returns true when this block completed its piece.
  bool record(PieceIndex piece, uint32_t block);
  // Counts every block of `piece` (sent whole, by another way than BitTorrent).
  void record_piece(PieceIndex piece);

  uint32_t pieces() const { return static_cast<uint32_t>(missing_.size()); }
  uint32_t pieces_sent() const { return sent_; }

 private:
  uint32_t blocks_in(uint32_t piece) const;

  uint64_t total_size_;
  uint32_t piece_length_;
  uint32_t blocks_per_piece_;
  std::vector<uint16_t> missing_;  // per piece: blocks not yet sent
  std::vector<bool> seen_;         // per block of the blob
  uint32_t sent_ = 0;
};

}  // namespace shoal::origin
