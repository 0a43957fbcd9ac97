#include "http/mux/stream.h"

#include <algorithm>
#include <cstring>

namespace shoal::http::mux {

void Stream::append_body(const uint8_t* data, size_t n) {
  if (inbox_pos == inbox.size()) {
    inbox.clear();
    inbox_pos = 0;
  } else if (inbox_pos > inbox.size() / 2) {
    inbox.erase(0, inbox_pos);  // keeps the buffer within the stream window
    inbox_pos = 0;
  }
  inbox.append(reinterpret_cast<const char*>(data), n);
}

size_t Stream::take_body(std::span<char> out) {
  size_t n = std::min(out.size(), buffered());
  std::memcpy(out.data(), inbox.data() + inbox_pos, n);
  inbox_pos += n;
  return n;
}

}  // namespace shoal::http::mux
