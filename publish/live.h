// `shoal hls live`: ffmpeg encodes the ladder at real time into a scratch directory,
// keeping every segment in its playlists (-hls_list_size 0); we poll those playlists
// and, each time every rendition has finished a new segment, upload it and move
// hls/NAME to a package holding the newest `window` segments.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "publish/origin.h"
#include "publish/settings.h"

namespace shoal::publish {

// A segment every rendition has finished, now part of the package `package`.
struct LiveSegment {
  uint64_t index = 0;
  double duration = 0;
  std::vector<std::pair<std::string, uint64_t>> sizes;  // rendition name, bytes
  Digest package;
};

struct LiveHooks {
  std::function<bool()> cancelled;  // polled: ffmpeg is stopped and the stream ended
  std::function<void(const LiveSegment&)> on_segment;
  // The last package, published with ended=true after `segments` segments.
  std::function<void(const Digest&, uint64_t segments)> on_ended;
};

struct LiveOptions {
  std::string input;               // a file, read at real time, or "testsrc"
  std::optional<double> duration;  // stop after this many seconds
  size_t window = 6;               // segments in the live playlist
};

// Runs until INPUT ends, `duration` passes or `cancelled` says so; the stream is then
// published as ended. An error says why it stopped early (ffmpeg's stderr included).
Result<void> run_live(const Settings& s, Origin& origin, const LiveOptions& options,
                      const LiveHooks& hooks);

}  // namespace shoal::publish
