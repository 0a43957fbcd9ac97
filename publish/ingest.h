// Turning a directory a packager wrote (playlists plus segment files) into a package
// manifest while its segments are uploaded: what `shoal hls publish` does with a
// packaged INPUT and with ffmpeg's output, and the playlist reading `hls live` shares.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/hls/m3u8.h"
#include "core/hls/package.h"
#include "publish/origin.h"
#include "publish/probe.h"

namespace shoal::publish {

// One rendition as the packager left it: its media playlist and what the
// multivariant playlist says about it (all zero when there is none).
struct VariantSource {
  std::string name;
  std::string playlist_path;
  hls::VariantEntry entry;
};

// The variants of INPUT, a directory (master.m3u8, else the one multivariant *.m3u8,
// else its only media playlist) or a playlist file. Names come from each variant's
// directory ("v0/index.m3u8" gives "v0"), else its position, made valid and unique.
Result<std::vector<VariantSource>> find_variants(const std::string& input);
Result<hls::MediaPlaylist> read_media_playlist(const std::string& path);
// A segment or map URI as a file next to its playlist; URLs are refused.
Result<std::string> resolve_uri(const std::string& playlist_path, const std::string& uri);
// "v0", "Video 1080" -> "video-1080"; "" when nothing valid is left.
std::string normalise_rendition_name(std::string_view text);

// ffprobe on a rendition's init and first segment (probe_segment; a fake in tests).
using SegmentProbe = std::function<Result<StreamInfo>(const std::optional<std::string>& init,
                                                      const std::string& segment)>;

struct IngestHints {
  std::vector<std::string> names;      // used in order instead of the derived names
  double frame_rate = 0;               // known (we transcoded): no probe for it
  std::function<bool()> cancelled;     // checked before each file: Errc::cancelled when true
  SegmentProbe probe = probe_segment;  // for what the multivariant playlist leaves out
};

// Uploads every init and media segment of INPUT and returns the VOD package for them
// (name, source and ladder are left for the caller). Bandwidths are measured from
// the segment sizes, never taken from the playlists.
Result<hls::Package> ingest(const std::string& input, BlobSink& origin, const IngestHints& hints);

// A rendition's description from its multivariant entry, probing the first segment
// (with its init) only for what the entry leaves out.
Result<hls::Rendition> describe_rendition(const VariantSource& v,
                                          const std::optional<std::string>& init,
                                          const std::string& first_segment, double known_frame_rate,
                                          const SegmentProbe& probe = probe_segment);

// max(the playlist's TARGETDURATION, each segment's duration rounded): RFC 8216 4.3.3.1.
uint32_t target_duration(uint32_t declared, const std::vector<hls::Segment>& segments);

}  // namespace shoal::publish
