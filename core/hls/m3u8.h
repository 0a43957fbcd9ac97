// Reading the playlists an HLS packager writes (ffmpeg's hlsenc, Shaka, Bento4…):
// a multivariant playlist and its media playlists, for `shoal hls publish DIR` and
// `shoal hls live`. Only what Shoal re-publishes is kept; what it cannot serve
// faithfully (byte ranges, encryption, discontinuities) is refused with a reason.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace shoal::hls {

struct VariantEntry {
  std::string uri;  // as written: relative to the multivariant playlist
  uint64_t bandwidth = 0;
  uint64_t average_bandwidth = 0;  // 0 when absent
  uint32_t width = 0;              // 0 when RESOLUTION is absent
  uint32_t height = 0;
  double frame_rate = 0;  // 0 when absent
  std::string codecs;     // "" when absent
};

struct MultivariantPlaylist {
  std::vector<VariantEntry> variants;  // EXT-X-STREAM-INF entries, in order
  bool independent_segments = false;
};

struct MediaSegmentEntry {
  std::string uri;
  double duration = 0;  // EXTINF
};

struct MediaPlaylist {
  uint32_t target_duration = 0;
  uint64_t media_sequence = 0;
  std::optional<std::string> map_uri;  // EXT-X-MAP URI (fMP4 init segment)
  std::string playlist_type;           // "VOD", "EVENT" or ""
  bool ended = false;                  // EXT-X-ENDLIST
  std::vector<MediaSegmentEntry> segments;
};

bool is_multivariant(std::string_view text);  // has EXT-X-STREAM-INF
// Errc::bad_request with the reason: no #EXTM3U, malformed attributes, or features
// Shoal does not re-publish (EXT-X-BYTERANGE, EXT-X-KEY other than NONE,
// EXT-X-DISCONTINUITY, EXT-X-MEDIA alternate renditions with their own URI).
Result<MultivariantPlaylist> parse_multivariant(std::string_view text);
Result<MediaPlaylist> parse_media(std::string_view text);

}  // namespace shoal::hls
