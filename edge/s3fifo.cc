#include "edge/s3fifo.h"

#include <algorithm>

namespace shoal::edge {
namespace {

constexpr uint8_t kMaxFreq = 3;  // two bits: enough to tell "hot" from "was hit once"

}  // namespace

void S3Fifo::Fifo::push_head(Node* n) {
  n->newer = nullptr;
  n->older = head;
  if (head) head->newer = n;
  head = n;
  if (!tail) tail = n;
  bytes += n->size;
  ++count;
}

void S3Fifo::Fifo::unlink(Node* n) {
  (n->newer ? n->newer->older : head) = n->older;
  (n->older ? n->older->newer : tail) = n->newer;
  n->newer = n->older = nullptr;
  bytes -= n->size;
  --count;
}

S3Fifo::S3Fifo(uint64_t budget_bytes) : budget_(budget_bytes), small_target_(budget_bytes / 10) {}

S3Fifo::Fifo& S3Fifo::fifo(Queue q) {
  switch (q) {
    case Queue::small: return small_;
    case Queue::main: return main_;
    case Queue::ghost: break;
  }
  return ghost_;
}

bool S3Fifo::contains(const Digest& d) const {
  auto it = nodes_.find(d);
  return it != nodes_.end() && it->second.queue != Queue::ghost;
}

std::optional<S3Fifo::EntryInfo> S3Fifo::inspect(const Digest& d) const {
  auto it = nodes_.find(d);
  if (it == nodes_.end()) return std::nullopt;
  const Node& n = it->second;
  return EntryInfo{n.queue, n.freq, n.size};
}

bool S3Fifo::touch(const Digest& d) {
  auto it = nodes_.find(d);
  if (it == nodes_.end() || it->second.queue == Queue::ghost) return false;
  // Lazy promotion: a hit only counts; nothing moves until the entry reaches a tail.
  Node& n = it->second;
  n.freq = std::min<uint8_t>(n.freq + 1, kMaxFreq);
  return true;
}

std::vector<Digest> S3Fifo::insert(const Digest& d, uint64_t size) {
  Queue target = Queue::small;
  uint8_t freq = 0;
  if (auto it = nodes_.find(d); it != nodes_.end()) {
    // Removed first, so making room below can neither evict nor ghost-trim it.
    if (it->second.queue == Queue::ghost) {
      target = Queue::main;
    } else {
      target = it->second.queue;
      freq = std::min<uint8_t>(it->second.freq + 1, kMaxFreq);
    }
    remove(it);
  }
  if (!admits(size)) {
    trim_ghost();
    return {d};
  }
  std::vector<Digest> evicted;
  make_room(size, evicted);
  place(d, size, target, freq);
  trim_ghost();
  return evicted;
}

bool S3Fifo::erase(const Digest& d) {
  auto it = nodes_.find(d);
  if (it == nodes_.end()) return false;
  bool resident = it->second.queue != Queue::ghost;
  remove(it);
  trim_ghost();
  return resident;
}

void S3Fifo::place(const Digest& d, uint64_t size, Queue q, uint8_t freq) {
  auto [it, inserted] = nodes_.try_emplace(d);
  Node& n = it->second;
  n.key = &it->first;
  n.size = size;
  n.freq = freq;
  n.queue = q;
  fifo(q).push_head(&n);
}

void S3Fifo::remove(std::unordered_map<Digest, Node>::iterator it) {
  fifo(it->second.queue).unlink(&it->second);
  nodes_.erase(it);
}

void S3Fifo::make_room(uint64_t size, std::vector<Digest>& evicted) {
  // Terminates: each step frees bytes, moves an entry from small to main (finitely
  // many), or spends one unit of a main entry's frequency.
  while (used_bytes() + size > budget_) {
    bool small_over = small_.count > 0 && small_.bytes >= small_target_;
    if (small_over || main_.count == 0) {
      evict_from_small(evicted);
    } else {
      evict_from_main(evicted);
    }
  }
}

void S3Fifo::evict_from_small(std::vector<Digest>& evicted) {
  Node* n = small_.tail;
  small_.unlink(n);
  if (n->freq > 0) {
    // Requested again while in probation: it earned a place in main, starting cold
    // so that it must keep being requested to stay.
    n->freq = 0;
    n->queue = Queue::main;
    main_.push_head(n);
    return;
  }
  evicted.push_back(*n->key);
  n->queue = Queue::ghost;
  ghost_.push_head(n);
}

void S3Fifo::evict_from_main(std::vector<Digest>& evicted) {
  Node* n = main_.tail;
  main_.unlink(n);
  if (n->freq > 0) {
    --n->freq;
    main_.push_head(n);
    return;
  }
  evicted.push_back(*n->key);
  nodes_.erase(evicted.back());
}

void S3Fifo::trim_ghost() {
  // As many ghosts as main holds objects: the paper's sizing, in entries because a
  // ghost costs a key, not the object's bytes. Counting entries rather than bytes
  // also bounds memory when many small objects pass through. A larger ghost lowered
  // the hit ratio in the Zipf benchmark (it lets one-time-lucky objects into main).
  while (ghost_.count > main_.count) {
    Node* oldest = ghost_.tail;
    ghost_.unlink(oldest);
    const Digest key = *oldest->key;  // a copy: erase must not read the node it frees
    nodes_.erase(key);
  }
}

}  // namespace shoal::edge
