#include "tracker/have_bits.h"

#include <algorithm>
#include <bit>

namespace shoal::tracker {

size_t count_pieces(std::string_view have) {
  size_t n = 0;
  for (char c : have) n += static_cast<size_t>(std::popcount(static_cast<unsigned char>(c)));
  return n;
}

size_t count_useful(std::string_view peer, std::string_view asker) {
  const size_t len = std::min(peer.size(), asker.size());
  size_t n = 0;
  for (size_t i = 0; i < len; ++i) {
    const auto p = static_cast<unsigned char>(peer[i]);
    const auto a = static_cast<unsigned char>(asker[i]);
    n += static_cast<size_t>(std::popcount(static_cast<unsigned char>(p & ~a)));
  }
  return n;
}

std::string full_have(uint32_t pieces) {
  std::string out((size_t{pieces} + 7) / 8, '\xff');
  if (const unsigned spare = static_cast<unsigned>(out.size() * 8 - pieces); spare > 0) {
    out.back() = static_cast<char>(0xffu << spare);
  }
  return out;
}

}  // namespace shoal::tracker
