#include "peer/download.h"

#include <fcntl.h>

#include <vector>

#include "core/torrent/metainfo.h"

namespace shoal::peer {

using Kind = SwarmEvent::Kind;

void Download::resolved(const ParsedMetainfo& m, std::string metainfo, std::string file_path) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::resolving) return;
    pieces_.emplace(m.size, m.piece_size);
    piece_hashes_ = m.piece_hashes;
    metainfo_ = std::move(metainfo);
    path_ = std::move(file_path);
    state_ = State::fetching;
    last_progress_ = Clock::now();
  }
  changed_.notify();
}

void Download::fail(Error e) {
  {
    std::lock_guard lock(mu_);
    if (state_ == State::failed || state_ == State::complete) return;
    state_ = State::failed;
    error_ = std::move(e);
  }
  changed_.notify();
}

void Download::complete() {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::verified) return;
    state_ = State::complete;
  }
  changed_.notify();
}

bool Download::open_file() {
  if (fd_.valid()) return true;
  fd_ = UniqueFd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  return fd_.valid();
}

Download::Hashed Download::apply(const SwarmEvent& e) {
  PieceIndex from, to;
  int fd = -1;
  bool flushed = e.kind == Kind::flushed;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::fetching || !pieces_) return Hashed::pending;
    switch (e.kind) {
      case Kind::block_written: pieces_->block_written(e.piece, e.block); break;
      case Kind::piece_passed:
        pieces_->piece_passed(e.piece);
        last_progress_ = Clock::now();
        break;
      case Kind::hash_failed: pieces_->hash_failed(e.piece); break;
      case Kind::flushed: pieces_->all_flushed(); break;
      default: break;
    }
    from = next_to_hash_;
    to = pieces_->piece_at(pieces_->readable_end(from) + pieces_->piece_size() - 1);
    if (unmatched_ && *unmatched_ != e.piece && !flushed) to = from;
    if (to > from && !open_file()) {
      state_ = State::failed;
      error_ = errno_error(errno, "opening the downloaded file of " + digest_.str());
      to = from;
    }
    fd = fd_.get();
  }
  Hashed result = Hashed::pending;
  if (to > from) result = check_pieces(fd, from, to, flushed);
  changed_.notify();
  return result;
}

// Runs on the swarm's event thread only, outside mu_: readers keep streaming while
// pieces are read back and hashed. A piece that does not match yet is retried on a
// later event (its write has not landed); after the final flush it is an error.
Download::Hashed Download::check_pieces(int fd, PieceIndex from, PieceIndex to, bool flushed) {
  const PieceTracker& t = *pieces_;  // fixed once resolved
  piece_buf_.resize(t.piece_size());
  PieceIndex p = from;
  for (; p < to; p = p.next()) {
    const uint64_t len = t.piece_length(p);
    auto n = pread_some(fd, piece_buf_.data(), len, t.piece_offset(p));
    if (!n || *n != len) break;
    auto h = v2_piece_hash(piece_buf_.data(), len, t.piece_size(), t.piece_count() == 1);
    if (h != piece_hashes_[p.value]) break;
    hash_.update(piece_buf_.data(), len);
  }
  if (p < to)
    unmatched_ = p;
  else
    unmatched_.reset();
  std::lock_guard lock(mu_);
  next_to_hash_ = p;
  checked_end_ = std::min(t.piece_offset(p), t.blob_size());
  if (p < to) {
    if (!flushed) return Hashed::pending;
    state_ = State::failed;
    error_ = Error(Errc::io_error, "piece " + std::to_string(p.value) + " of " + digest_.str() +
                                       " on disk does not match its hash after the download");
    return Hashed::mismatch;
  }
  if (checked_end_ < t.blob_size()) return Hashed::pending;
  Digest actual = hash_.finish();
  if (actual != digest_) {
    state_ = State::failed;
    error_ = Error(Errc::digest_mismatch,
                   "downloaded bytes hash to " + actual.str() + ", not " + digest_.str());
    return Hashed::mismatch;
  }
  state_ = State::verified;
  return Hashed::verified;
}

Download::State Download::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

std::optional<Error> Download::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

uint64_t Download::size() const {
  std::lock_guard lock(mu_);
  return pieces_ ? pieces_->blob_size() : 0;
}

uint32_t Download::piece_size() const {
  std::lock_guard lock(mu_);
  return pieces_ ? pieces_->piece_size() : 0;
}

std::string Download::metainfo() const {
  std::lock_guard lock(mu_);
  return metainfo_;
}

std::string Download::file_path() const {
  std::lock_guard lock(mu_);
  return path_;
}

uint64_t Download::readable_end(uint64_t offset) const {
  std::lock_guard lock(mu_);
  return std::max(offset, checked_end_);
}

int Download::fd() const {
  std::lock_guard lock(mu_);
  return fd_.get();
}

Download::Clock::time_point Download::last_progress() const {
  std::lock_guard lock(mu_);
  return last_progress_;
}

}  // namespace shoal::peer
