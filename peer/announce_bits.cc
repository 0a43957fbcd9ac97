#include "peer/announce_bits.h"

#include <algorithm>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>

#include "core/torrent/piece_bits.h"

namespace shoal::peer {
namespace {

constexpr std::string_view kParam = "shoal_have";

bool is_have_param(std::string_view pair) {
  return pair.substr(0, pair.find('=')) == kParam;
}

}  // namespace

std::string with_have(std::string_view url, std::string_view hex) {
  const size_t q = url.find('?');
  std::string out(url.substr(0, q));
  std::string query;
  if (q != std::string_view::npos) {
    std::string_view rest = url.substr(q + 1);
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      if (pair.empty() || is_have_param(pair)) continue;
      if (!query.empty()) query += '&';
      query += pair;
    }
  }
  if (!hex.empty()) {
    if (!query.empty()) query += '&';
    query += std::string(kParam) + "=" + std::string(hex);
  }
  if (!query.empty()) out += "?" + query;
  return out;
}

std::string have_hex(const std::vector<bool>& bits) {
  if (bits.empty() || bits.size() > kMaxAnnouncedPieces) return {};
  return piece_bits_hex(bits);
}

bool announce_due(const std::vector<lt::announce_entry>& trackers, lt::time_point now) {
  bool due = false;
  for (const auto& t : trackers) {
    for (const auto& ep : t.endpoints) {
      for (const auto& ih : ep.info_hashes) {
        if (ih.updating) return false;  // its answer would restart the schedule anyway
        // A protocol the torrent does not use (v1 of a v2-only torrent) never starts.
        if (ih.start_sent && ih.next_announce <= now + std::chrono::seconds(1)) due = true;
      }
    }
  }
  return due;
}

void failing_last(std::vector<lt::announce_entry>& trackers) {
  auto failing = [](const lt::announce_entry& t) {
    for (const auto& ep : t.endpoints) {
      for (const auto& ih : ep.info_hashes) {
        if (ih.fails > 0) return true;
      }
    }
    return false;
  };
  std::stable_partition(trackers.begin(), trackers.end(),
                        [&](const lt::announce_entry& t) { return !failing(t); });
}

void AnnounceBits::start(lt::add_torrent_params& atp) {
  if (!atp.ti) return;
  const std::string hex = have_hex(std::vector<bool>(static_cast<size_t>(atp.ti->num_pieces())));
  if (hex.empty()) return;
  for (std::string& url : atp.trackers) url = with_have(url, hex);
}

void AnnounceBits::refresh(const std::vector<std::pair<Digest, lt::torrent_handle>>& downloads) {
  std::map<Digest, std::string> kept;
  for (const auto& [d, h] : downloads) {
    if (auto it = sent_.find(d); it != sent_.end()) kept.insert(*it);
  }
  sent_ = std::move(kept);
  for (const auto& [d, h] : downloads) refresh_one(d, h);
}

void AnnounceBits::refresh_one(const Digest& d, const lt::torrent_handle& h) {
  const lt::torrent_status st = h.status(lt::torrent_handle::query_pieces);
  std::vector<bool> bits(static_cast<size_t>(st.pieces.size()));
  for (size_t i = 0; i < bits.size(); ++i) {
    bits[i] = st.pieces[lt::piece_index_t(static_cast<int>(i))];
  }
  const std::string hex = have_hex(bits);
  auto [it, fresh] = sent_.try_emplace(d, have_hex(std::vector<bool>(bits.size())));
  if (it->second == hex) return;
  std::vector<lt::announce_entry> trackers = h.trackers();
  if (trackers.empty() || !announce_due(trackers, lt::clock_type::now())) return;
  for (auto& t : trackers) t.url = with_have(t.url, hex);
  failing_last(trackers);
  h.replace_trackers(trackers);
  it->second = hex;
}

}  // namespace shoal::peer
