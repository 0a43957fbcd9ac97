// Peer code names the piece index by its old home; the type lives in core (origin uses it too).
#pragma once

#include "core/torrent/piece_index.h"

namespace shoal::peer {
using shoal::PieceIndex;
}  // namespace shoal::peer
