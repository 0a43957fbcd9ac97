#include "peer/piece_watch.h"

#include <algorithm>

namespace shoal::peer {
namespace {
using std::chrono::milliseconds;
// Overdue after kOverdueFactor times the usual wait, and never before kOverdueFloor: a
// piece's wait varies a lot with how many others the agent fetches at once, and each
// piece sent again costs the origin a copy.
constexpr double kOverdueFactor = 3;
constexpr milliseconds kOverdueFloor{1'000};
// Until one seen piece has arrived, assume it takes this long.
constexpr double kFirstUsualMs = 1'000;
constexpr PieceWatch::Clock::time_point kNotSeen = PieceWatch::Clock::time_point::min();

double smooth(double avg, PieceWatch::Clock::duration took) {
  const auto ms = static_cast<double>(std::chrono::duration_cast<milliseconds>(took).count());
  return avg == 0 ? ms : 0.875 * avg + 0.125 * ms;
}

PieceWatch::Clock::duration limit_for(double usual_ms) {
  const double usual = usual_ms > 0 ? usual_ms : kFirstUsualMs;
  return std::max<PieceWatch::Clock::duration>(
      kOverdueFloor, milliseconds(static_cast<int64_t>(kOverdueFactor * usual)));
}
}  // namespace

PieceWatch::PieceWatch(uint32_t pieces, uint32_t endgame_pieces)
    : endgame_pieces_(endgame_pieces),
      since_(pieces, kNotSeen),
      had_(pieces),
      from_origin_(pieces),
      first_seen_(pieces, kNotSeen),
      requested_since_(pieces, kNotSeen) {}

void PieceWatch::from_origin(uint32_t i) {
  if (i < from_origin_.size()) from_origin_[i] = true;
}

PieceWatch::Clock::duration PieceWatch::overdue_after() const { return limit_for(usual_ms_); }

PieceWatch::Clock::duration PieceWatch::overdue_after_request() const {
  return limit_for(request_ms_);
}

PieceWatch::Ask PieceWatch::observe(const std::vector<bool>& have, const std::vector<int>& holders,
                                    Clock::time_point now, const std::vector<bool>& requested) {
  const size_t n = since_.size();
  Ask ask;
  ask.bits.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int seen_at = i < holders.size() ? holders[i] : 0;
    if (i < have.size() && have[i]) {
      if (!had_[i] && !from_origin_[i] && first_seen_[i] != kNotSeen)
        usual_ms_ = smooth(usual_ms_, now - first_seen_[i]);
      if (!had_[i] && !from_origin_[i] && requested_since_[i] != kNotSeen)
        request_ms_ = smooth(request_ms_, now - requested_since_[i]);
      requested_since_[i] = kNotSeen;
      had_[i] = true;
      since_[i] = kNotSeen;
      ask.bits[i] = true;
      ++ask.have;
      continue;
    }
    if (seen_at > 0 && since_[i] == kNotSeen) since_[i] = now;
    if (seen_at == 0) since_[i] = kNotSeen;  // its holders went away: a new sighting starts over
    if (seen_at > 0 && first_seen_[i] == kNotSeen) first_seen_[i] = now;
    const bool asked = i < requested.size() && requested[i];
    if (asked && requested_since_[i] == kNotSeen) requested_since_[i] = now;
    if (!asked) requested_since_[i] = kNotSeen;
    ask.bits[i] = seen_at > 0;
  }
  if (n - ask.have <= endgame_pieces_) {
    ask.endgame = true;
    ask.bits = have;
    ask.bits.resize(n);
    return ask;
  }
  const auto limit = overdue_after();
  const auto request_limit = overdue_after_request();
  for (size_t i = 0; i < n; ++i) {
    if (since_[i] == kNotSeen) continue;
    const bool late_request =
        requested_since_[i] != kNotSeen && now - requested_since_[i] >= request_limit;
    if (!late_request && now - since_[i] < limit) continue;
    if (ask.overdue.empty()) ask.overdue.resize(n);
    ask.overdue[i] = true;
  }
  return ask;
}

}  // namespace shoal::peer
