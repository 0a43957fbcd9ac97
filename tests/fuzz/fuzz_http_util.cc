// Query strings and percent-encoded path parts come from clients.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/util.h"
#include "core/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto decoded = shoal::text::percent_decode(text); decoded && decoded->size() > text.size()) {
    std::abort();  // decoding never grows a string
  }
  (void)shoal::http::find_query_param(text, "digest");
  for (char c : shoal::text::json_escape(text)) {
    if (static_cast<unsigned char>(c) < 0x20) std::abort();  // no raw control characters in JSON
  }
  return 0;
}
