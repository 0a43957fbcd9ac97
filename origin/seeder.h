// Seeds every blob the origin holds into the swarm: one libtorrent session, one v2
// torrent per blob, announced to the configured trackers. DHT, local discovery, UPnP
// and NAT-PMP are off: peers find each other only through Shoal's tracker. Blobs are
// added in seed mode, because the store verified their bytes when they were
// committed: a restart re-adds them without re-hashing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "core/torrent/piece_index.h"

namespace shoal::origin {

// One seeded blob as the origin sees it. `pieces_sent` counts the pieces every block
// of which the origin has sent at least once (to any peer): once it equals `pieces`,
// the blob has left the origin and the peers can finish it among themselves.
struct SwarmStatus {
  uint32_t pieces = 0;
  uint32_t pieces_sent = 0;
  uint32_t peers = 0;           // connected peers
  uint32_t complete_peers = 0;  // of those, the ones holding every piece
  uint64_t uploaded_bytes = 0;  // payload sent for this blob since the origin started
};

struct SeederOptions {
  std::vector<std::string> trackers;  // announce URLs (http://host:port/announce)
  std::string listen = "127.0.0.1:0";  // BitTorrent listen interface
  // libtorrent peer-id prefix; the tracker's hand-out policy knows origins by "-SHO".
  std::string fingerprint = "-SHO010-";
  // libtorrent's initial seeding: each peer is offered one piece at a time, the next
  // once another peer has announced the last, so the origin sends each piece ~once.
  bool super_seeding = false;
};

class Seeder {
 public:
  // Starts the libtorrent session; throws std::runtime_error at start-up.
  explicit Seeder(SeederOptions opts);
  ~Seeder();
  Seeder(const Seeder&) = delete;
  Seeder& operator=(const Seeder&) = delete;

  // Starts seeding the blob stored at `blob_path` (its file name is the digest hex)
  // described by `metainfo` (bencoded). Idempotent.
  Result<void> add(const Digest& digest, const std::string& blob_path, const std::string& metainfo);
  void remove(const Digest& digest);
  // Counts a piece the origin sent outside BitTorrent (the HTTP hand-out) as sent.
  void mark_sent(const Digest& digest, PieceIndex piece);
  size_t torrents() const;
  // Errc::not_found when the blob is not seeded. Waits for libtorrent's network thread.
  Result<SwarmStatus> swarm(const Digest& digest) const;
  uint64_t uploaded_bytes() const;  // payload bytes sent to peers, all torrents
  uint16_t listen_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::origin
