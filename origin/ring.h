// Rendezvous (highest random weight) hashing: where a blob or a tag lives in a ring of
// origins. Each member scores each key; the order of a key is its members sorted by
// score, highest first, and its owners are the first `replicas` of that order. Every
// node given the same members computes the same order (the scores depend only on the
// member URLs and the key), and when a member joins or leaves only the keys it owned
// or now owns move: about 1/N of them.
//
// Pure: no I/O, no clock, no health. Cluster (cluster.h) adds health on top.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::origin {

class Ring {
 public:
  Ring() = default;
  // Members by name (an origin's base URL); duplicates are dropped, order is irrelevant.
  explicit Ring(std::vector<std::string> members);

  size_t size() const { return members_.size(); }
  const std::vector<std::string>& members() const { return members_; }  // sorted
  // Indices into members(), highest score for `key` first: the full placement order.
  std::vector<size_t> order(std::string_view key) const;
  // The first min(n, size()) of order(key).
  std::vector<size_t> owners(std::string_view key, size_t n) const;
  // Identifies the member list: two origins with different fingerprints disagree
  // about placement. Stable across processes and platforms.
  uint64_t fingerprint() const { return fingerprint_; }

  // The score of a member (by its seed) for a key: 64-bit, well mixed.
  static uint64_t score(uint64_t member_seed, std::string_view key);
  static uint64_t seed_of(std::string_view member);

 private:
  std::vector<std::string> members_;
  std::vector<uint64_t> seeds_;
  uint64_t fingerprint_ = 0;
};

// Ring keys, so blobs and tags never collide: the full digest text, and "tag:" + name.
std::string blob_key(std::string_view digest_text);
std::string tag_key(std::string_view tag_name);

}  // namespace shoal::origin
