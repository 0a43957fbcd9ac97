#include "origin/ring.h"

#include <algorithm>
#include <numeric>

namespace shoal::origin {
namespace {

// MurmurHash3's 64-bit finaliser: every input bit flips about half the output bits,
// which FNV-1a alone does not give for keys differing only at their end.
uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

}  // namespace

uint64_t Ring::seed_of(std::string_view member) { return mix(fnv1a(kFnvOffset, member)); }

uint64_t Ring::score(uint64_t member_seed, std::string_view key) {
  return mix(fnv1a(member_seed, key) ^ member_seed);
}

Ring::Ring(std::vector<std::string> members) : members_(std::move(members)) {
  std::sort(members_.begin(), members_.end());
  members_.erase(std::unique(members_.begin(), members_.end()), members_.end());
  fingerprint_ = kFnvOffset;
  for (const auto& m : members_) {
    seeds_.push_back(seed_of(m));
    fingerprint_ = fnv1a(fingerprint_, m);
    fingerprint_ = fnv1a(fingerprint_, std::string_view("\n"));
  }
  fingerprint_ = mix(fingerprint_);
}

std::vector<size_t> Ring::order(std::string_view key) const {
  std::vector<std::pair<uint64_t, size_t>> scored;
  scored.reserve(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) scored.emplace_back(score(seeds_[i], key), i);
  // Ties (astronomically rare) go to the smaller index, so the order stays total.
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<size_t> out;
  out.reserve(scored.size());
  for (const auto& s : scored) out.push_back(s.second);
  return out;
}

std::vector<size_t> Ring::owners(std::string_view key, size_t n) const {
  auto all = order(key);
  all.resize(std::min(n, all.size()));
  return all;
}

std::string blob_key(std::string_view digest_text) { return std::string(digest_text); }
std::string tag_key(std::string_view tag_name) { return "tag:" + std::string(tag_name); }

}  // namespace shoal::origin
