// Metainfo reaches peers from the tracker and the origin: parse_and_bind must reject
// anything not bound to the digest asked for, and never crash. with_announce_list
// reads the same bytes (an owner's copy, in a ring): it must never crash either, and
// what it accepts it must accept again with the same result.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/torrent/announce_list.h"
#include "core/torrent/metainfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto expected = shoal::Digest::parse(
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  static const std::vector<std::string> trackers = {"http://127.0.0.1:4200/announce",
                                                    "http://127.0.0.1:4201/announce"};
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto parsed = shoal::parse_and_bind(bytes, *expected);
  if (parsed.ok() && parsed->digest != *expected) std::abort();
  auto announced = shoal::with_announce_list(bytes, trackers);
  if (announced.ok()) {
    auto again = shoal::with_announce_list(*announced, trackers);
    if (!again.ok() || *again != *announced) std::abort();
  }
  return 0;
}
