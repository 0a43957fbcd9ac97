// Playlists come from whatever packager wrote a directory (`shoal hls publish DIR`);
// package manifests from the origin. Neither parser may crash, and a package that
// parses must write back to JSON that parses to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/hls/m3u8.h"
#include "core/hls/package.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)shoal::hls::is_multivariant(text);
  (void)shoal::hls::parse_multivariant(text);
  (void)shoal::hls::parse_media(text);
  (void)shoal::hls::digest_of_uri(text);
  auto p = shoal::hls::parse_package(text);
  if (p) {
    std::string once = shoal::hls::to_json(*p);
    auto again = shoal::hls::parse_package(once);
    if (!again || shoal::hls::to_json(*again) != once) std::abort();
  }
  return 0;
}
