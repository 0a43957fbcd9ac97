// The playlists the edge serves, made from a package manifest (core/hls/package.h).
// Pure functions: the same package and filter always give the same bytes, so every
// edge serves identical playlists and caches in front of them agree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/hls/package.h"

namespace shoal::hls {

// ?max_height= and ?max_bandwidth= for players that cannot take every variant.
struct VariantFilter {
  std::optional<uint32_t> max_height;
  std::optional<uint64_t> max_bandwidth;
};

// The multivariant playlist: one EXT-X-STREAM-INF per rendition the filter keeps,
// URIs "<rendition>/index.m3u8". When the filter keeps none, the variant with the
// lowest bandwidth stays: a constrained player still gets something to play.
std::string master_playlist(const Package& p, const VariantFilter& filter);

// A rendition's media playlist: VOD (PLAYLIST-TYPE:VOD and ENDLIST), or live (a
// sliding window with no PLAYLIST-TYPE; ENDLIST once the input has ended).
std::string media_playlist(const Package& p, const Rendition& r);

const Rendition* find_rendition(const Package& p, std::string_view name);

}  // namespace shoal::hls
