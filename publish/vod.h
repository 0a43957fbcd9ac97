// `shoal hls publish`: a VOD package. A video file is transcoded once (one ffmpeg run
// for the whole ladder) into a scratch directory, which is then published like a
// directory a packager wrote: every segment becomes a blob, the manifest another, and
// hls/NAME points at the manifest.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/digest.h"
#include "publish/origin.h"
#include "publish/probe.h"
#include "publish/settings.h"

namespace shoal::publish {

// What a terminal may show while a video is published; every hook is optional.
struct VodHooks {
  std::function<bool()> cancelled;  // polled: ffmpeg is stopped, Errc::cancelled returned
  // Media seconds transcoded of `total`, and ffmpeg's speed once it reports one.
  std::function<void(double done, double total, std::optional<double> speed)> on_progress;
  std::function<void()> on_transcode_end;
  // After a successful transcode: the source, how many renditions, wall seconds taken.
  std::function<void(const SourceInfo&, size_t renditions, double seconds)> on_transcoded;
};

struct VodResult {
  Digest package;
  bool unchanged = false;  // the same source and ladder made the current package
};

// A video file: probed, fitted to the ladder, transcoded, ingested and tagged; nothing
// is transcoded when hls/NAME already holds a package of the same source and ladder.
Result<VodResult> publish_video(const Settings& s, Origin& origin, const std::string& input,
                                const VodHooks& hooks);
// A directory or .m3u8 a packager wrote, published as it is.
Result<Digest> publish_packaged(const Settings& s, Origin& origin, const std::string& input,
                                const std::function<bool()>& cancelled);

}  // namespace shoal::publish
