#include "peer/handout_fetcher.h"

#include <pthread.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <span>

#include "http/client.h"
#include "core/log.h"
#include "core/text.h"
#include "core/torrent/piece_bits.h"

namespace shoal::peer {
namespace {

using std::chrono::milliseconds;

// Nothing to ask for (every missing piece is at a peer): look again this often, in
// case a holder goes away.
constexpr milliseconds kIdlePoll{250};
constexpr milliseconds kErrorBackoff{1'000};
// With this few pieces missing, the agent asks for them even if a peer has them
// (Shoal-Endgame): that peer may be the slow one everybody is waiting on, and the
// origin is idle by then (it still sends a piece again only 2 s after it left).
constexpr uint32_t kEndgamePieces = 4;

}  // namespace

HandoutFetcher::HandoutFetcher(Swarm& swarm, http::Upstreams& origins, const Digest& d,
                               HandoutGeometry g, unsigned window, uint64_t agent)
    : swarm_(swarm),
      origins_(origins),
      digest_(d),
      geometry_(g),
      agent_([agent] {
        char buf[17];
        auto end = std::to_chars(buf, buf + 16, agent, 16).ptr;
        return std::string(buf, end);
      }()),
      watch_(g.pieces, kEndgamePieces) {
  running_ = window;
  for (unsigned i = 0; i < window; ++i) threads_.emplace_back([this] { run(); });
}

HandoutFetcher::~HandoutFetcher() {
  stop();
  for (auto& t : threads_) t.join();
}

void HandoutFetcher::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
}

void HandoutFetcher::pause(milliseconds d) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, d, [this] { return stop_.load(); });
}

std::optional<PieceWatch::Ask> HandoutFetcher::what_to_ask() {
  auto view = swarm_.pieces_of(digest_);
  if (!view) return std::nullopt;
  std::lock_guard lock(mu_);
  return watch_.observe(view->have, view->holders, PieceWatch::Clock::now(), view->requested);
}

void HandoutFetcher::run() {
  pthread_setname_np(pthread_self(), "shoal-handout");
  std::optional<http::Client> client;
  while (!stop_) pause(fetch_one(client));
  --running_;
}

milliseconds HandoutFetcher::fetch_one(std::optional<http::Client>& client) {
  auto held = what_to_ask();
  if (!held) {  // no longer downloading
    stop_ = true;
    return milliseconds(0);
  }
  if (held->overdue.empty() &&
      std::all_of(held->bits.begin(), held->bits.end(), [](bool b) { return b; }))
    return kIdlePoll;
  if (auto wait = swarm_.handout_wait(geometry_.piece_size); wait > wait.zero())
    return std::chrono::ceil<milliseconds>(wait);
  // The body is received straight into the piece handed to libtorrent: zeroing it
  // costs less than copying every byte out of the client's buffer.
  std::vector<char> piece;
  size_t filled = 0;
  const http::BodyBuffers into{
      [&]() -> Result<std::span<char>> {
        if (piece.empty()) piece.resize(geometry_.piece_size);  // not for a 204
        if (filled == piece.size())
          return Error(Errc::protocol_error, "hand-out body longer than a piece");
        return std::span<char>(piece.data() + filled, piece.size() - filled);
      },
      [&](size_t n) -> Result<void> {
        filled += n;
        return {};
      }};
  http::Headers headers{{"Shoal-Held", piece_bits_hex(held->bits)},
                        {"Shoal-Agent", agent_},
                        {"Shoal-Endgame", held->endgame ? "1" : "0"}};
  if (!held->overdue.empty()) headers.emplace_back("Shoal-Overdue", piece_bits_hex(held->overdue));
  auto target = handout_origin();
  if (!target) return kErrorBackoff;
  const Url origin = *target;
  if (!client || client->url().str() != origin.str()) {
    http::ClientOptions o;
    o.io_timeout = milliseconds(30'000);
    client.emplace(origin, o);
  }
  auto r = client->download_into("/blobs/" + digest_.str() + "/handout", headers, into);
  piece.resize(filled);
  if (filled < geometry_.piece_size) swarm_.handout_refund(geometry_.piece_size - filled);
  if (http::worth_another(r)) {
    origins_.failed(origin);
    std::lock_guard lock(mu_);
    runner_.reset();  // any origin of the ring names the next one
  }
  if (r && r->status == 307) return follow(*r);
  if (!r) {
    log::warn("hand-out request failed", {{"digest", digest_.str()}, {"origin", origin.str()},
                                          {"error", r.error().message}});
    return kErrorBackoff;
  }
  return take(*r, std::move(piece));
}

// In a ring one origin runs the blob's hand-out: the one another origin named in its
// 307, else the first origin in order (which names it).
std::optional<Url> HandoutFetcher::handout_origin() {
  {
    std::lock_guard lock(mu_);
    if (runner_) return runner_;
  }
  auto origins = origins_.order();
  if (!origins || origins->empty()) return std::nullopt;
  return origins->front();
}

milliseconds HandoutFetcher::follow(const http::Response& r) {
  auto runner = Url::parse(r.header("Shoal-Handout-Origin"));
  if (!runner) {
    log::warn("hand-out redirect without a valid Shoal-Handout-Origin",
              {{"digest", digest_.str()}});
    return kErrorBackoff;
  }
  std::lock_guard lock(mu_);
  runner_ = *runner;
  return milliseconds(0);
}

// What the origin answered: a piece for the swarm, or when to ask again.
milliseconds HandoutFetcher::take(const http::Response& r, std::vector<char>&& piece) {
  if (r.status == 204) {
    auto retry = text::parse_uint<uint64_t>(r.header("Shoal-Retry-After-Ms"));
    return std::clamp(milliseconds(retry.value_or(kIdlePoll.count())), milliseconds(20),
                      milliseconds(2'000));
  }
  if (r.status != 200) {
    log::warn("hand-out refused", {{"digest", digest_.str()}, {"status", r.status}});
    return kErrorBackoff;
  }
  auto index = text::parse_uint<uint64_t>(r.header("Shoal-Piece"));
  const uint64_t offset = index ? *index * geometry_.piece_size : 0;
  if (!index || *index >= geometry_.pieces ||
      piece.size() != std::min<uint64_t>(geometry_.piece_size, geometry_.size - offset)) {
    log::warn("hand-out answer does not fit the blob", {{"digest", digest_.str()}});
    return kErrorBackoff;
  }
  {
    std::lock_guard lock(mu_);
    watch_.from_origin(static_cast<uint32_t>(*index));
  }
  swarm_.add_piece(digest_, PieceIndex{static_cast<uint32_t>(*index)}, std::move(piece));
  return milliseconds(0);
}

}  // namespace shoal::peer
