// Range and Content-Range headers come straight from clients.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "http/range.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t blob_size = 0;
  if (size >= sizeof blob_size) {
    std::memcpy(&blob_size, data, sizeof blob_size);
    data += sizeof blob_size;
    size -= sizeof blob_size;
  }
  std::string_view header(reinterpret_cast<const char*>(data), size);
  auto d = shoal::http::decide_range(header, blob_size);
  if (d.kind == shoal::http::RangeDecision::partial &&
      !(d.range.first <= d.range.last && d.range.last < blob_size)) {
    std::abort();  // a served range must lie inside the blob
  }
  if (auto cr = shoal::http::parse_content_range(header); cr && cr->last < cr->first) std::abort();
  return 0;
}
