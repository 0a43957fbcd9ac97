#include "origin/sent_pieces.h"

#include <algorithm>

namespace shoal::origin {

SentPieces::SentPieces(uint64_t total_size, uint32_t piece_length)
    : total_size_(total_size),
      piece_length_(std::max<uint32_t>(piece_length, kBlockSize)),
      blocks_per_piece_(piece_length_ / kBlockSize) {
  const uint64_t pieces = (total_size_ + piece_length_ - 1) / piece_length_;
  missing_.resize(pieces);
  for (uint32_t i = 0; i < pieces; ++i) missing_[i] = static_cast<uint16_t>(blocks_in(i));
  seen_.resize(pieces * blocks_per_piece_, false);
}

uint32_t SentPieces::blocks_in(uint32_t piece) const {
  const uint64_t start = uint64_t{piece} * piece_length_;
  const uint64_t len = std::min<uint64_t>(piece_length_, total_size_ - start);
  return static_cast<uint32_t>((len + kBlockSize - 1) / kBlockSize);
}

bool SentPieces::record(PieceIndex piece, uint32_t block) {
  if (piece.value >= missing_.size() || block >= blocks_in(piece.value)) return false;
  const size_t bit = size_t{piece.value} * blocks_per_piece_ + block;
  if (seen_[bit]) return false;
  seen_[bit] = true;
  if (--missing_[piece.value] != 0) return false;
  ++sent_;
  return true;
}

void SentPieces::record_piece(PieceIndex piece) {
  if (piece.value >= missing_.size()) return;
  for (uint32_t b = 0; b < blocks_in(piece.value); ++b) record(piece, b);
}

}  // namespace shoal::origin
