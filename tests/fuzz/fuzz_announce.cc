// Announce and scrape query strings come from any BitTorrent client.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tracker/announce.h"
#include "tracker/have_bits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  shoal::tracker::AnnounceLimits limits;
  if (auto r = shoal::tracker::parse_announce(text, limits)) {
    if (r->info_hash.size() != 20 || r->peer_id.size() != 20 || r->port == 0) std::abort();
    if (r->numwant > limits.max_numwant) std::abort();
    if (!r->ip.empty() && r->ip.size() != 4 && r->ip.size() != 16) std::abort();
    // shoal_have: bounded, and once it fits a piece count no bit lies past the last piece.
    if (r->have.size() > shoal::tracker::kMaxHavePieces / 8) std::abort();
    const auto bits = static_cast<uint32_t>(r->have.size() * 8);
    for (uint32_t pieces : {bits, bits > 0 ? bits - 1 : 0u, bits > 7 ? bits - 7 : 0u}) {
      if (shoal::tracker::check_have(r->have, pieces) &&
          shoal::tracker::count_pieces(r->have) > pieces) {
        std::abort();
      }
    }
  }
  if (auto s = shoal::tracker::parse_scrape(text)) {
    for (const auto& h : *s) {
      if (h.size() != 20) std::abort();
    }
  }
  (void)shoal::tracker::ip_of_remote(text);
  return 0;
}
