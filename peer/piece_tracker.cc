#include "peer/piece_tracker.h"

#include <algorithm>

#include "core/torrent/metainfo.h"

namespace shoal::peer {

PieceTracker::PieceTracker(uint64_t blob_size, uint32_t piece_size)
    : blob_size_(blob_size),
      piece_size_(piece_size),
      piece_count_(static_cast<uint32_t>((blob_size + piece_size - 1) / piece_size)),
      blocks_per_piece_(piece_size / kMetainfoBlockSize),
      written_(static_cast<size_t>((blob_size + kMetainfoBlockSize - 1) / kMetainfoBlockSize)),
      written_count_(piece_count_),
      passed_(piece_count_) {}

uint64_t PieceTracker::piece_length(PieceIndex p) const {
  if (p.value >= piece_count_) return 0;
  return std::min<uint64_t>(piece_size_, blob_size_ - piece_offset(p));
}

uint32_t PieceTracker::blocks_in(PieceIndex p) const {
  return static_cast<uint32_t>((piece_length(p) + kMetainfoBlockSize - 1) / kMetainfoBlockSize);
}

void PieceTracker::block_written(PieceIndex p, uint32_t block) {
  if (p.value >= piece_count_ || block >= blocks_in(p)) return;
  size_t i = size_t{p.value} * blocks_per_piece_ + block;
  if (written_[i]) return;
  written_[i] = true;
  ++written_count_[p.value];
}

void PieceTracker::piece_passed(PieceIndex p) {
  if (p.value >= piece_count_ || passed_[p.value]) return;
  passed_[p.value] = true;
  ++passed_count_;
}

void PieceTracker::hash_failed(PieceIndex p) {
  if (p.value >= piece_count_ || passed_[p.value]) return;
  size_t first = size_t{p.value} * blocks_per_piece_;
  std::fill_n(written_.begin() + static_cast<std::ptrdiff_t>(first), blocks_in(p), false);
  written_count_[p.value] = 0;
}

void PieceTracker::all_flushed() {
  flushed_ = true;
  std::fill(passed_.begin(), passed_.end(), true);
  passed_count_ = piece_count_;
}

bool PieceTracker::readable(PieceIndex p) const {
  if (p.value >= piece_count_ || !passed_[p.value]) return false;
  return flushed_ || written_count_[p.value] == blocks_in(p);
}

uint64_t PieceTracker::readable_end(PieceIndex p) const {
  while (readable(p)) p = p.next();
  return std::min<uint64_t>(piece_offset(p), blob_size_);
}

}  // namespace shoal::peer
