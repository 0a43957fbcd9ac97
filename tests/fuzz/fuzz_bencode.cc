// Bencode comes from the network (metainfo from an origin, and later from peers).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tracker/bencode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto v = shoal::tracker::bencode::decode(text);
  // The decoder accepts only the canonical form, so what it accepts re-encodes to
  // exactly the input.
  if (v && shoal::tracker::bencode::encode(*v) != text) std::abort();
  return 0;
}
