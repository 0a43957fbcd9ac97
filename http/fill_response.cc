#include "http/fill_response.h"

#include "http/failure.h"

namespace shoal::http {

awaitable<std::optional<StreamEnd>> respond_fill(Exchange& ex, Head head,
                                                 std::shared_ptr<Fill> fill) {
  using namespace std::chrono_literals;
  while (fill->state() == Fill::State::connecting) {
    uint64_t seen = fill->changed().version();
    if (fill->state() != Fill::State::connecting) break;
    co_await fill->changed().wait(seen, 1s);
  }
  if (fill->state() == Fill::State::failed) {
    co_await respond_failure(ex, *fill->error(), "BLOB_UNKNOWN");
    co_return std::nullopt;
  }
  auto readable_end = [&](uint64_t pos) -> std::optional<uint64_t> {
    uint64_t visible = fill->visible();
    if (visible <= pos && fill->state() == Fill::State::failed) return std::nullopt;
    return visible;
  };
  const GrowingFile file{[&] { return fill->fd(); }, fill->size(), fill->changed(),
                         readable_end};
  co_return co_await stream_blob(ex, std::move(head), fill->digest(), file);
}

}  // namespace shoal::http
