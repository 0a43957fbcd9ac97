// Copies bytes into buffers lent in turn by `acquire` (a span to fill) and taken back
// by `commit(n)`: for producers whose bytes are already in memory, beside consumers
// that let a receiver fill their buffers in place (PipelinedSink, http::BodyBuffers).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>

#include "core/error.h"

namespace shoal {

template <class Acquire, class Commit>
Result<void> copy_into(const char* data, size_t len, Acquire&& acquire, Commit&& commit) {
  while (len > 0) {
    Result<std::span<char>> slot = acquire();
    if (!slot) return slot.error();
    const size_t n = std::min(len, slot->size());
    std::memcpy(slot->data(), data, n);
    if (auto ok = commit(n); !ok) return ok;
    data += n;
    len -= n;
  }
  return {};
}

}  // namespace shoal
