// GET /blobs/<digest>/handout: the origin's side of the hand-out (HandoutLedger).
// Headers: Shoal-Held (the pieces the agent holds or sees at a peer, core/torrent/piece_bits.h)
// Shoal-Agent (an id the agent chose, hex, so that a slow agent is known as one) and
// Shoal-Endgame (1: Shoal-Held lists only the pieces the agent holds) and Shoal-Overdue
// (optional: pieces the agent sees at a peer that does not deliver them, same format).
#include <algorithm>
#include <optional>

#include "core/text.h"
#include "core/torrent/metainfo.h"
#include "core/torrent/piece_bits.h"
#include "http/offload.h"
#include "origin/body.h"
#include "origin/origin.h"

namespace shoal::origin {
namespace {

using bhttp::field;
using bhttp::status;
using Clock = HandoutLedger::Clock;

// A holder has this long to announce a piece it was handed before the piece goes out
// again to an agent that still cannot see it anywhere: hashing and one HAVE round.
constexpr HandoutLedger::Duration kRegrantAfter{2'000};
// Pieces of one blob sent at once. Every agent asks with two requests at a time; if all
// were served together, 32 agents would share the link as 64 TCP flows, each too slow
// to keep its window open through a loss: a few stall for seconds, and the ledger takes
// them for lost. Four flows fill the link, and each piece arrives in a quarter of the
// time it takes to send them all.
constexpr uint32_t kSendingSlots = 4;

// Absent: 0, an agent that says nothing of itself.
std::optional<HandoutLedger::AgentId> parse_agent_id(std::string_view text) {
  if (text.empty()) return HandoutLedger::AgentId{0};
  if (text.size() > 16) return std::nullopt;
  return text::parse_uint<HandoutLedger::AgentId>(text, 16);
}

}  // namespace

awaitable<void> Origin::take_handout_slot(Handout& h) {
  for (;;) {
    const uint64_t seen = h.slot_freed.version();
    {
      std::lock_guard lock(handout_mu_);
      if (h.sending < kSendingSlots) {
        ++h.sending;
        co_return;
      }
    }
    co_await h.slot_freed.wait(seen, std::chrono::seconds(1));
  }
}

void Origin::release_handout_slot(Handout& h) {
  {
    std::lock_guard lock(handout_mu_);
    --h.sending;
  }
  h.slot_freed.notify();
}

Result<Origin::Handout*> Origin::known_handout(const Digest& d) {
  std::lock_guard lock(handout_mu_);
  auto it = handouts_.find(d);
  if (it == handouts_.end()) return Error(Errc::not_found, "no hand-out yet");
  return &it->second;
}

Result<Origin::Handout*> Origin::handout_of(const Digest& d) {
  if (auto known = known_handout(d)) return known;
  auto bencoded = metainfo_->get_or_make(d);
  if (!bencoded) return bencoded.error();
  auto parsed = parse_and_bind(*bencoded, d);
  if (!parsed) return parsed.error();
  std::lock_guard lock(handout_mu_);
  auto [it, added] = handouts_.try_emplace(d, HandoutLedger(parsed->piece_count, kRegrantAfter),
                                           parsed->size, parsed->piece_size);
  return &it->second;
}

std::optional<Url> Origin::handout_runner(const Digest& d) const {
  if (!cluster_.enabled()) return std::nullopt;
  for (const Owner& o : cluster_.owners(blob_key(d.str()), SteadyClock::now())) {
    if (!o.up) continue;
    if (o.self) return std::nullopt;
    return o.url;
  }
  return std::nullopt;  // no owner up: whoever holds a copy may as well serve
}

awaitable<void> Origin::get_handout(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  if (auto runner = handout_runner(*d); runner && !is_replica_write(ex)) {
    // One ledger per blob in the ring: the first up owner's. An agent told so moves
    // there; when that origin dies, any origin sends it to the next one, whose ledger
    // refills from the agents' Shoal-Held reports.
    http::Head head;
    head.result(status::temporary_redirect);
    head.set(field::location, runner->target("/blobs/" + d->str() + "/handout"));
    head.set("Shoal-Handout-Origin", runner->str());
    head.set(field::cache_control, "no-store");
    co_return co_await ex.respond(std::move(head), "");
  }
  auto blob = store_->open_blob(*d);
  if (!blob) co_return co_await respond_failure(ex, blob.error(), "BLOB_UNKNOWN");
  // Handout entries live as long as the origin; map nodes do not move. Only the first
  // request for a blob may have to make its metainfo, off the event loop.
  Result<Handout*> handout = known_handout(*d);
  if (!handout) handout = co_await http::offload([&] { return handout_of(*d); });
  if (!handout) co_return co_await respond_failure(ex, handout.error(), "BLOB_UNKNOWN");
  Handout& h = **handout;
  const auto field_value = ex.request()["Shoal-Held"];
  auto held =
      parse_piece_bits(std::string_view(field_value.data(), field_value.size()), h.ledger.pieces());
  if (!held) {
    co_return co_await ex.respond_error(status::bad_request, "HELD_INVALID",
                                        "Shoal-Held: " + held.error().message);
  }
  const auto agent_text = ex.request()["Shoal-Agent"];
  auto agent = parse_agent_id(std::string_view(agent_text.data(), agent_text.size()));
  if (!agent) {
    co_return co_await ex.respond_error(status::bad_request, "AGENT_INVALID",
                                        "Shoal-Agent: expected 1 to 16 hex digits");
  }
  const auto endgame_text = ex.request()["Shoal-Endgame"];
  if (!endgame_text.empty() && endgame_text != "0" && endgame_text != "1") {
    co_return co_await ex.respond_error(status::bad_request, "ENDGAME_INVALID",
                                        "Shoal-Endgame: expected 0 or 1");
  }
  const auto overdue_value = ex.request()["Shoal-Overdue"];
  Result<std::vector<bool>> overdue = std::vector<bool>{};
  if (!overdue_value.empty()) {
    overdue = parse_piece_bits(std::string_view(overdue_value.data(), overdue_value.size()),
                               h.ledger.pieces());
  }
  if (!overdue) {
    co_return co_await ex.respond_error(status::bad_request, "OVERDUE_INVALID",
                                        "Shoal-Overdue: " + overdue.error().message);
  }
  {
    std::lock_guard lock(handout_mu_);
    h.ledger.report(*held, Clock::now(), *agent);
  }
  co_await take_handout_slot(h);
  // Released however this coroutine ends, a client gone mid-body included.
  const auto slot = std::shared_ptr<void>(nullptr, [this, &h](void*) { release_handout_slot(h); });
  HandoutLedger::Pick pick;
  const auto handed_at = Clock::now();
  {
    std::lock_guard lock(handout_mu_);
    pick = h.ledger.pick(*held, handed_at, *agent, endgame_text == "1", *overdue);
  }
  http::Head head;
  head.set(field::cache_control, "no-store");
  if (pick.kind != HandoutLedger::Pick::Kind::piece) {
    head.result(status::no_content);
    if (pick.kind == HandoutLedger::Pick::Kind::wait)
      head.set("Shoal-Retry-After-Ms", std::to_string(pick.wait.count()));
    co_return co_await ex.respond(std::move(head), "");
  }
  const uint64_t offset = uint64_t{pick.piece.value} * h.piece_size;
  const uint64_t length = std::min<uint64_t>(h.piece_size, h.size - offset);
  head.result(status::ok);
  head.set(field::content_type, "application/octet-stream");
  head.set("Shoal-Piece", std::to_string(pick.piece.value));
  co_await ex.respond_file(std::move(head), blob->fd.get(), offset, length);
  const bool whole = ex.body_bytes_sent() >= length;
  {
    std::lock_guard lock(handout_mu_);
    if (whole)
      h.ledger.delivered(pick.piece, handed_at, Clock::now(), *agent);
    else
      h.ledger.aborted(pick.piece);
  }
  if (!whole) co_return;
  handout_bytes_->inc(length);
  handout_pieces_[static_cast<size_t>(pick.reason)]->inc();
  if (seeder_) seeder_->mark_sent(*d, pick.piece);
}

}  // namespace shoal::origin
