#include "peer/piece_tracker.h"

#include <algorithm>

namespace shoal::peer {

PieceTracker::PieceTracker(uint64_t blob_size, uint32_t piece_size)
    : blob_size_(blob_size),
      piece_size_(piece_size),
      piece_count_(static_cast<uint32_t>((blob_size + piece_size - 1) / piece_size)),
      passed_(piece_count_) {}

uint64_t PieceTracker::piece_length(PieceIndex p) const {
  if (p.value >= piece_count_) return 0;
  return std::min<uint64_t>(piece_size_, blob_size_ - piece_offset(p));
}

void PieceTracker::piece_passed(PieceIndex p) {
  if (p.value >= piece_count_ || passed_[p.value]) return;
  passed_[p.value] = true;
  ++passed_count_;
}

void PieceTracker::all_flushed() {
  std::fill(passed_.begin(), passed_.end(), true);
  passed_count_ = piece_count_;
}

bool PieceTracker::readable(PieceIndex p) const {
  return p.value < piece_count_ && passed_[p.value];
}

uint64_t PieceTracker::readable_end(PieceIndex p) const {
  while (readable(p)) p = p.next();
  return std::min<uint64_t>(piece_offset(p), blob_size_);
}

}  // namespace shoal::peer
