// The peer agent's BitTorrent side: one libtorrent session holding a torrent per
// blob, downloading (rarest first, with deadlines on the pieces a reader waits for)
// or seeding. libtorrent's alerts are turned into SwarmEvents on a thread of the
// Swarm's own; the listener must not block for long.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "peer/piece_index.h"

namespace shoal::peer {

struct SwarmOptions {
  std::vector<std::string> trackers;  // announce URLs
  std::string listen = "127.0.0.1:0";
  // The tracker's hand-out policy tells origins ("-SHO") from peers ("-SHP").
  std::string fingerprint = "-SHP010-";
  std::string origin_prefix = "-SHO";  // download bytes from these count as origin bytes
  int upload_rate = 0;                 // bytes per second, 0: unlimited
  int download_rate = 0;
  int max_connections = 200;
  // Pieces come from the origin's HTTP hand-out (HandoutFetcher): what an origin's
  // BitTorrent side says it has is ignored, so nothing is asked of it twice.
  bool hide_origin = false;
};

struct SwarmEvent {
  enum class Kind {
    piece_passed,   // a piece's hash matched
    finished,       // every piece passed
    flushed,        // everything passed before flush() was called is on disk
    moved,          // move() done
    failed,         // the torrent stopped on an error (disk, move)
    whole_hashed,   // every piece passed and the whole blob hashed to `actual`
  };
  Kind kind;
  Digest digest;
  PieceIndex piece{};
  std::string message;            // for failed
  std::optional<Digest> actual;  // for whole_hashed
};

struct SwarmStats {
  uint64_t uploaded = 0;     // payload bytes sent to peers
  uint64_t downloaded = 0;   // payload bytes received
  uint64_t from_origin = 0;  // of which from origins (their hand-out and BitTorrent side)
  uint64_t pieces = 0;       // pieces downloaded and verified
  uint64_t hash_failures = 0;
  uint64_t bans = 0;  // peers banned for sending corrupt data
  uint64_t torrents = 0;
  uint64_t peers = 0;  // open peer connections
  // Bytes through SHA-256 to check pieces and through the whole-blob SHA-256, and
  // bytes read back from files to do either (peer/blob_disk_io.h).
  uint64_t hashed_piece = 0;
  uint64_t hashed_whole = 0;
  uint64_t read_back = 0;
};

class Swarm {
 public:
  using Listener = std::function<void(const SwarmEvent&)>;

  // Starts the session and its alert thread; throws std::runtime_error at start-up.
  Swarm(SwarmOptions opts, Listener listener);
  ~Swarm();
  Swarm(const Swarm&) = delete;
  // Stops delivering events and returns once the listener is no longer running, so
  // the listener's owner can go before the session does.
  void stop_events();
  Swarm& operator=(const Swarm&) = delete;

  // Seeds a complete, verified file <save_dir>/<digest hex> without re-hashing it.
  Result<void> seed(const Digest& d, std::string_view metainfo, const std::string& save_dir);
  // Downloads into <save_dir>/<digest hex>.
  Result<void> download(const Digest& d, std::string_view metainfo, const std::string& save_dir);
  // Moves pieces [first, first+count) (those the blob has) ahead of every other piece
  // of the download, for a reader waiting on them. False when d is not (or no longer)
  // downloading.
  bool prioritize(const Digest& d, PieceIndex first, uint32_t count);
  // Per piece: held, and how many connected peers announce it (origins hidden by
  // hide_origin excepted). nullopt when d is not downloading.
  struct PieceView {
    std::vector<bool> have;
    std::vector<int> holders;
    std::vector<bool> requested;  // in libtorrent's download queue: blocks asked of peers
  };
  std::optional<PieceView> pieces_of(const Digest& d) const;
  // A whole piece fetched outside BitTorrent: libtorrent writes it, checks its hash
  // (a mismatch counts in hash_failures) and announces it. Counted as from the origin.
  void add_piece(const Digest& d, PieceIndex piece, std::vector<char> data);
  // How long the hand-out must wait before `bytes` more may come in under
  // download_rate, shared with BitTorrent (zero: go ahead, they are counted).
  std::chrono::steady_clock::duration handout_wait(uint64_t bytes);
  void handout_refund(uint64_t bytes);
  void flush(const Digest& d);
  void move(const Digest& d, const std::string& save_dir);
  // Stops the torrent; the file stays where it is.
  void remove(const Digest& d);

  SwarmStats stats() const;
  uint16_t listen_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::peer
