// S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023),
// byte-budgeted: which objects the edge's RAM and disk tiers keep. Most objects a CDN
// sees are requested once; S3-FIFO lets them pass through a small FIFO (10% of the
// bytes) without displacing anything in the main FIFO (90%), where objects that were
// requested again live and are reinserted while their 2-bit frequency lasts. A ghost
// FIFO remembers the keys recently dropped from the small queue, so an object that
// comes back soon after goes straight to main.
//
// Sans-I/O and single-threaded (the tier locks around it); it holds keys and sizes,
// never bytes. Every operation is O(1) amortised; an entry costs about 100 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/digest.h"

namespace shoal::edge {

class S3Fifo {
 public:
  enum class Queue : uint8_t { small, main, ghost };

  explicit S3Fifo(uint64_t budget_bytes);
  S3Fifo(const S3Fifo&) = delete;  // the queues link the map's own nodes
  S3Fifo& operator=(const S3Fifo&) = delete;

  bool contains(const Digest& d) const;
  // A hit: raises d's frequency (capped at 3) without moving it; false if absent.
  bool touch(const Digest& d);
  // Admits d after a miss and returns the keys evicted to make room: the caller
  // deletes their bytes. d goes to main if it is in the ghost, else to small. An
  // object over the whole budget is not admitted and comes back as the only key in
  // the list, so "delete every returned key" is always right. Inserting a resident
  // key replaces its size and counts as a hit.
  std::vector<Digest> insert(const Digest& d, uint64_t size);
  // Forgets d entirely (its bytes were found corrupt or removed); false if absent.
  // A ghost record of d is dropped too, so a bad object earns no head start.
  bool erase(const Digest& d);

  bool admits(uint64_t size) const { return size <= budget_; }
  uint64_t used_bytes() const { return small_.bytes + main_.bytes; }
  size_t size() const { return small_.count + main_.count; }
  uint64_t budget() const { return budget_; }

  // For tests and metrics. A ghost's size is the size it had when it left.
  struct EntryInfo {
    Queue queue;
    uint8_t freq;
    uint64_t size;
  };
  std::optional<EntryInfo> inspect(const Digest& d) const;
  uint64_t small_bytes() const { return small_.bytes; }
  uint64_t main_bytes() const { return main_.bytes; }
  size_t ghost_size() const { return ghost_.count; }

 private:
  struct Node {
    const Digest* key = nullptr;  // the map's own key
    Node* newer = nullptr;
    Node* older = nullptr;
    uint64_t size = 0;
    uint8_t freq = 0;
    Queue queue = Queue::small;
  };
  // An intrusive doubly linked FIFO through the map's nodes (stable addresses): no
  // second allocation per entry, and erase from the middle is O(1).
  struct Fifo {
    Node* head = nullptr;  // newest
    Node* tail = nullptr;  // oldest, the next to leave
    uint64_t bytes = 0;
    size_t count = 0;
    void push_head(Node* n);
    void unlink(Node* n);
  };

  Fifo& fifo(Queue q);
  void place(const Digest& d, uint64_t size, Queue q, uint8_t freq);
  void remove(std::unordered_map<Digest, Node>::iterator it);
  void make_room(uint64_t size, std::vector<Digest>& evicted);
  void evict_from_small(std::vector<Digest>& evicted);
  void evict_from_main(std::vector<Digest>& evicted);
  void trim_ghost();

  const uint64_t budget_;
  const uint64_t small_target_;
  std::unordered_map<Digest, Node> nodes_;  // resident and ghost entries
  Fifo small_, main_, ghost_;
};

}  // namespace shoal::edge
