// Metainfo reaches peers from the tracker and the origin: parse_and_bind must reject
// anything not bound to the digest asked for, and never crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/torrent/metainfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto expected = shoal::Digest::parse(
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto parsed = shoal::parse_and_bind(bytes, *expected);
  if (parsed.ok() && parsed->digest != *expected) std::abort();
  return 0;
}
