// Digests arrive in paths, query strings and tag bodies.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/digest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto d = shoal::Digest::parse(text);
  if (d.ok() && d->str() != text) std::abort();  // one spelling per digest
  return 0;
}
