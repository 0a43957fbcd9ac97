// The trackers of a .torrent: `announce` (the first URL) and `announce-list` (BEP 12)
// set on an existing metainfo, outside its info dict. The info dict's bytes are copied
// untouched (never decoded and encoded again), so the info-hash, v1 and v2, cannot
// change: the origin stores metainfo without trackers and adds the configured ones as
// it serves, so a new tracker list needs no re-hashing and names the same torrent.
//
// All URLs go into ONE tier. Shoal's trackers share one peer store, so any of them
// gives the whole swarm; within a tier a BEP 12 client shuffles the URLs once and
// keeps the first that answers, which spreads standard clients over the trackers and
// moves on when one fails. One tier per tracker would send every client to the first
// tracker and leave the others idle until it fails.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace shoal {

// `metainfo` with its announce and announce-list replaced by `announce_urls` (in
// that order, one tier), or removed when the list is empty. Every other top-level key
// keeps its bytes; keys come out sorted as bencoding requires. Errc::protocol_error
// when `metainfo` is not a bencoded dict with an info dict.
Result<std::string> with_announce_list(std::string_view metainfo,
                                       const std::vector<std::string>& announce_urls);

}  // namespace shoal
