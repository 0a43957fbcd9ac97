// One blob on its way into the peer agent's cache: resolved (its metainfo known),
// fetched through the swarm, hashed in order as pieces become readable, then moved
// into the blob store. Shared between the Swarm's event thread, which feeds it, and
// every HTTP request streaming it, which read the file as it fills.
//
// The chain of trust: the metainfo is bound to the digest (parse_and_bind); libtorrent
// checks every piece against its Merkle hashes as it arrives; and the bytes readers
// get are read back from the file here, in order, checked against the same piece
// hashes (libtorrent reports a piece as passed before its write reaches the file,
// and a write of a corrupt copy may land after the hash failure) and fed to the
// whole-blob SHA-256. Readers only see that checked prefix, and never the last piece
// before the whole blob matched its digest.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/change_signal.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/torrent/metainfo.h"
#include "core/sha256.h"
#include "peer/piece_tracker.h"
#include "peer/swarm.h"

namespace shoal::peer {

class Download {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { resolving, fetching, verified, complete, failed };

  explicit Download(const Digest& d) : digest_(d), last_progress_(Clock::now()) {}

  const Digest& digest() const { return digest_; }
  ChangeSignal& changed() { return changed_; }

  // Transitions; each wakes the waiting readers.
  void resolved(const ParsedMetainfo& m, std::string metainfo, std::string file_path);
  void fail(Error e);
  void complete();

  enum class Hashed { pending, verified, mismatch };
  // Applies a swarm event, then hashes whatever became readable in order. Returns
  // `verified` exactly once, when the whole file matched the digest.
  Hashed apply(const SwarmEvent& e);

  State state() const;
  std::optional<Error> error() const;
  uint64_t size() const;
  std::string metainfo() const;
  std::string file_path() const;
  // How far the file can be read from `offset` on; the fd to read it with (-1 until
  // the first piece is readable).
  uint64_t readable_end(uint64_t offset) const;
  int fd() const;
  uint32_t piece_size() const;
  Clock::time_point last_progress() const;

 private:
  Hashed check_pieces(int fd, PieceIndex from, PieceIndex to, bool flushed);
  bool open_file();  // mu_ held

  const Digest digest_;
  ChangeSignal changed_;
  mutable std::mutex mu_;
  State state_ = State::resolving;
  std::optional<Error> error_;
  std::optional<PieceTracker> pieces_;
  std::vector<std::array<uint8_t, 32>> piece_hashes_;
  uint64_t checked_end_ = 0;  // bytes [0, checked_end_) read back and matched
  std::string metainfo_;
  std::string path_;
  UniqueFd fd_;
  Sha256 hash_;                  // event thread only
  PieceIndex next_to_hash_{};    // first piece not yet checked (event thread only)
  std::vector<char> piece_buf_;  // event thread only
  // A piece that did not match when read back is read again only after an event
  // about it (its write landing) or the final flush, not after every event.
  std::optional<PieceIndex> unmatched_;  // event thread only
  Clock::time_point last_progress_;
};

}  // namespace shoal::peer
