// The agent's own libtorrent disk back end, so that every byte a download receives is
// handled once. libtorrent's buffer is copied into a 16 KiB block of ours, written to
// the file once (pwrite), and hashed from that block: its BEP 52 leaf (SHA-256 of the
// block) at once, and, once its piece verified, the whole-blob SHA-256, in blob order,
// while the block is still held in memory. A piece is verified against its v2 hash,
// the Merkle root of its leaves. libtorrent also asks a hybrid torrent's v1 SHA-1; the
// answer is the metainfo's own v1 hash when the v2 hash matched (bytes that match
// SHA-256 are the origin's bytes, whose SHA-1 the origin computed), and a hash that
// cannot match when it did not, so no SHA-1 pass runs. Held blocks are bounded
// (hold_bytes): beyond that, and for pieces whose bytes came before this session (a
// seed's), bytes are read back from the file and counted in read_back_bytes.
//
// One worker thread ("shoal-disk") runs every job in order, so a hash job sees every
// write issued before it, and a piece libtorrent reports as passed is on the file (in
// the page cache) whole. The whole-blob SHA-256 runs on a second ("shoal-whole"), fed
// verified blocks in order; the hash job of the last piece waits for its digest.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <libtorrent/session_params.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace libtorrent {
class torrent_info;
}

namespace shoal::peer {

// What the bytes of one blob must hash to, from its metainfo.
struct BlobExpect {
  uint64_t size = 0;
  uint32_t piece_size = 0;
  std::vector<std::array<uint8_t, 32>> v2;  // per piece: its BEP 52 hash
  std::vector<std::array<uint8_t, 20>> v1;  // per piece: SHA-1; empty for v2-only
};

// From the metainfo (bound to d) and libtorrent's reading of it (for the v1 hashes).
Result<BlobExpect> blob_expect(std::string_view metainfo, const Digest& d,
                               const libtorrent::torrent_info& ti);

// Shared by the Swarm and its disk back end; thread-safe.
class BlobBook {
 public:
  // Before the torrent is added; `name` is the blob's file name (its digest hex).
  void expect(const std::string& name, BlobExpect e);
  void forget(const std::string& name);
  std::shared_ptr<const BlobExpect> expected(const std::string& name) const;
  // The whole-blob SHA-256 of a download, set once every byte went through it.
  void set_whole(const std::string& name, const Digest& d);
  std::optional<Digest> take_whole(const std::string& name);

  // Bytes through SHA-256 to check pieces, through the whole-blob SHA-256, and read
  // back from files to do either.
  std::atomic<uint64_t> piece_bytes{0};
  std::atomic<uint64_t> whole_bytes{0};
  std::atomic<uint64_t> read_back_bytes{0};

  // Bytes of writes queued for the disk back end. libtorrent stops reading from peers
  // when it is full; a hand-out piece (add_piece) waits here for room instead.
  std::atomic<uint64_t> queued_bytes{0};
  void wait_for_room(uint64_t limit, std::chrono::milliseconds at_most);
  void drained();  // the queue went below half its limit

 private:
  std::mutex room_mu_;
  std::condition_variable room_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const BlobExpect>> expected_;
  std::map<std::string, Digest> whole_;
};

struct BlobDiskOptions {
  size_t hold_bytes = 16 << 20;   // blocks kept for the whole-blob hash, all torrents
  size_t queue_bytes = 8 << 20;   // writes queued before peers are told to wait
};

libtorrent::disk_io_constructor_type blob_disk_io(std::shared_ptr<BlobBook> book,
                                                  BlobDiskOptions options = {});

}  // namespace shoal::peer
