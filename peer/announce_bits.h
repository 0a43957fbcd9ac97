// How an agent tells the tracker which pieces it holds: libtorrent 2.0.8 has no hook to
// add a parameter to its own HTTP announces, but it appends its parameters after a '?'
// already in the tracker URL (with '&'), and its SSRF check only refuses URLs that
// carry BitTorrent's own parameters. So the agent keeps `shoal_have=<hex bitfield>` in
// each tracker URL of a download and rewrites it with replace_trackers().
// replace_trackers() announces at once with the new URLs and restarts the announce
// schedule from there; the rewrite is therefore made only when libtorrent's own next
// announce is due (within a second), so it replaces that announce rather than adding
// one. ARCHITECTURE ("Piece-aware tracker") has the reasoning.
#pragma once

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/announce_entry.hpp>
#include <libtorrent/time.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"

namespace shoal::peer {

// Above this many pieces (a blob over 256 GiB at 16 MiB pieces) the agent sends no
// bitfield: 4096 hex digits keep an announce well inside the tracker's 16 KiB head.
inline constexpr size_t kMaxAnnouncedPieces = 16384;

// `url` with its shoal_have parameter set to `hex` (added or replaced; removed when
// `hex` is empty); every other part of the URL kept as it was.
std::string with_have(std::string_view url, std::string_view hex);
// The parameter's value for `bits`: hex in BitTorrent order, or "" over the bound.
std::string have_hex(const std::vector<bool>& bits);
// True when no announce is in flight and one that already started is due by `now`
// (within a second): the moment a URL rewrite costs no extra announce.
bool announce_due(const std::vector<lt::announce_entry>& trackers, lt::time_point now);
// The trackers whose last announce failed moved after the others (order otherwise kept):
// replace_trackers forgets which tracker of a tier works, and libtorrent would try a
// dead first tracker again before failing over.
void failing_last(std::vector<lt::announce_entry>& trackers);

class AnnounceBits {
 public:
  // For a download about to be added: every tracker URL says "no piece yet", so the
  // tracker orders the very first hand-out by what each peer can give.
  static void start(lt::add_torrent_params& atp);
  // On the alert thread at each poll, with every download: rewrites a download's URLs
  // when the pieces it holds changed since the last rewrite and an announce is due;
  // forgets the downloads no longer listed.
  void refresh(const std::vector<std::pair<Digest, lt::torrent_handle>>& downloads);

 private:
  void refresh_one(const Digest& d, const lt::torrent_handle& h);
  std::map<Digest, std::string> sent_;  // the hex now in the URLs
};

}  // namespace shoal::peer
