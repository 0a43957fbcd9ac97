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

// Readers are woken only when there is more to read or the state changed: a piece
// verified out of order changes neither.
Download::Hashed Download::apply(const SwarmEvent& e) {
  Hashed result = Hashed::pending;
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    const uint64_t before = checked_end_;
    if (state_ != State::fetching || !pieces_) return Hashed::pending;
    switch (e.kind) {
      case Kind::piece_passed:
        pieces_->piece_passed(e.piece);
        last_progress_ = Clock::now();
        break;
      case Kind::flushed: pieces_->all_flushed(); break;
      case Kind::whole_hashed: whole_ = e.actual; break;
      default: break;
    }
    result = settle();
    changed = checked_end_ != before || result != Hashed::pending;
  }
  if (changed) changed_.notify();
  return result;
}

// Moves the readable run on; the last piece waits for the whole-blob digest.
Download::Hashed Download::settle() {
  const PieceTracker& t = *pieces_;
  const uint64_t end = t.readable_end(next_readable_);
  next_readable_ = t.piece_at(end);
  if (whole_ && *whole_ != digest_) {
    state_ = State::failed;
    error_ = Error(Errc::digest_mismatch,
                   "downloaded bytes hash to " + whole_->str() + ", not " + digest_.str());
    return Hashed::mismatch;
  }
  const uint64_t last_piece = t.piece_offset(t.piece_at(t.blob_size() - 1));
  const bool done = end >= t.blob_size() && whole_;
  const uint64_t shown = done ? t.blob_size() : std::min(end, last_piece);
  if (shown > checked_end_ && !open_file()) {
    state_ = State::failed;
    error_ = errno_error(errno, "opening the downloaded file of " + digest_.str());
    return Hashed::mismatch;
  }
  checked_end_ = std::max(checked_end_, shown);
  if (!done) return Hashed::pending;
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
