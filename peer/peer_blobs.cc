// GET/HEAD /blobs/<digest>: from the cache with sendfile, or streamed from the file
// of an in-flight download as its pieces become readable.
#include "http/blob_response.h"
#include "http/failure.h"
#include "core/log.h"
#include "http/outbound.h"
#include "peer/peer_agent.h"

namespace shoal::peer {
namespace {

using bhttp::status;
using namespace std::chrono_literals;

// A blob that failed verification came from upstream: not the client's fault.
Error upstream_error(Error e) {
  if (e.is(Errc::digest_mismatch))
    return Error(Errc::protocol_error, "the swarm's bytes failed verification: " + e.message);
  return e;
}

// Every byte of a body an agent completes was checked against the digest first (a
// download holds its last piece until the whole blob matched; the cache holds only
// verified blobs). Saying so lets `shoal pull` on the same host skip hashing it again.
http::Head verified_head(const Digest& d) {
  http::Head head = http::blob_head(d);
  head.set("Shoal-Verified", d.str());
  return head;
}

}  // namespace

awaitable<void> PeerAgent::get_blob(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await http::respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  // Twice: an eviction can remove a blob between the cache check and the open.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool served = co_await serve_cached(ex, *d);
    if (served) co_return;
    if (ex.method() == bhttp::verb::head && !inflight(*d)) co_return co_await head_uncached(ex, *d);
    auto dl = fetch(*d, true);
    if (!dl) continue;  // cached meanwhile
    while (dl->state() == Download::State::resolving) {
      uint64_t seen = dl->changed().version();
      if (dl->state() != Download::State::resolving) break;
      co_await dl->changed().wait(seen, 1s);
    }
    if (dl->state() == Download::State::failed) {
      co_return co_await http::respond_failure(ex, upstream_error(*dl->error()), "BLOB_UNKNOWN");
    }
    co_return co_await stream(ex, dl);
  }
  co_await ex.respond_error(status::service_unavailable, "UNAVAILABLE",
                            "the blob is being evicted; retry");
}

awaitable<bool> PeerAgent::serve_cached(http::Exchange& ex, const Digest& d) {
  {
    std::lock_guard lock(mu_);
    if (!cache_.contains(d)) co_return false;
    cache_.touch(d, Clock::now());
  }
  auto blob = store_->open_blob(d);
  if (!blob) co_return false;
  co_await http::respond_blob_file(ex, verified_head(d), d, blob->fd.get(), blob->size);
  co_return true;
}

// HEAD for a blob that is not here: its size from the metainfo, no download.
awaitable<void> PeerAgent::head_uncached(http::Exchange& ex, const Digest& d) {
  auto lookup = [&] { return upstream_.metainfo(d); };
  auto metainfo = co_await http::outbound(lookup);
  if (!metainfo) co_return co_await http::respond_failure(ex, metainfo.error(), "BLOB_UNKNOWN");
  auto parsed = parse_and_bind(*metainfo, d);
  if (!parsed)
    co_return co_await http::respond_failure(ex, upstream_error(parsed.error()), "BLOB_UNKNOWN");
  co_await http::respond_blob_head(ex, http::blob_head(d), d, parsed->size);
}

// Sends pieces as they become readable. The last piece waits for the whole-blob
// digest check, so a client never receives a complete body that failed it; if the
// download fails, the response stops short and the connection closes.
awaitable<void> PeerAgent::stream(http::Exchange& ex, std::shared_ptr<Download> dl) {
  const uint64_t size = dl->size();
  const uint32_t piece_size = dl->piece_size();
  const uint64_t last_piece_start = (size - 1) / piece_size * piece_size;
  uint64_t prioritized_from = UINT64_MAX;
  auto readable_end = [&](uint64_t pos) -> std::optional<uint64_t> {
    auto state = dl->state();
    if (state == Download::State::failed) return std::nullopt;
    bool verified = state == Download::State::verified || state == Download::State::complete;
    // A window of pieces ahead of the reader jumps the queue (rarest first otherwise).
    // From the end of the checked prefix: a range further on is served from it.
    if (uint64_t piece = std::min(pos, dl->readable_end(0)) / piece_size;
        piece != prioritized_from && !verified && opts_.readahead_pieces > 0) {
      bool applied = swarm_->prioritize(dl->digest(), PieceIndex{static_cast<uint32_t>(piece)},
                                        opts_.readahead_pieces);
      if (applied) prioritized_from = piece;
    }
    uint64_t limit = verified ? size : last_piece_start;
    return std::min(dl->readable_end(pos), limit);
  };
  const http::GrowingFile file{[&] { return dl->fd(); }, size, dl->changed(), readable_end};
  auto end = co_await http::stream_blob(ex, verified_head(dl->digest()), dl->digest(), file);
  if (end.source_failed) {
    log::warn("stream cut short", {{"digest", dl->digest().str()},
                                   {"sent", end.sent},
                                   {"error", dl->error() ? dl->error()->message : "client gone"}});
  }
}

}  // namespace shoal::peer
