// One blob on its way into the peer agent's cache: resolved (its metainfo known),
// fetched through the swarm, then moved into the blob store. Shared between the
// Swarm's event thread, which feeds it, and every HTTP request streaming it, which
// read the file as it fills.
//
// The chain of trust: the metainfo is bound to the digest (parse_and_bind); the
// agent's disk back end (peer/blob_disk_io.h) checks every piece against its Merkle
// hash from the bytes as they arrived, writes them once, and feeds verified pieces in
// order to the whole-blob SHA-256. Readers see the run of pieces that are both
// verified and written, and never the last piece before the whole blob matched its
// digest (the whole_hashed event).
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
  // Applies a swarm event. Returns `verified` exactly once, when every piece is
  // readable and the whole blob matched the digest.
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
  Hashed settle();   // mu_ held
  bool open_file();  // mu_ held

  const Digest digest_;
  ChangeSignal changed_;
  mutable std::mutex mu_;
  State state_ = State::resolving;
  std::optional<Error> error_;
  std::optional<PieceTracker> pieces_;
  uint64_t checked_end_ = 0;    // bytes [0, checked_end_) verified, written and served
  PieceIndex next_readable_{};  // first piece not yet in that run
  std::optional<Digest> whole_;  // what the whole blob hashed to
  std::string metainfo_;
  std::string path_;
  UniqueFd fd_;
  Clock::time_point last_progress_;
};

}  // namespace shoal::peer
