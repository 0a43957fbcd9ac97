// What `shoal hls publish` and `shoal hls live` share: the origin seen as a store of
// blobs and tags, turning a directory a packager wrote (playlists plus segment files)
// into a package manifest while its segments are uploaded, and the pieces of the
// command line both subcommands take (defined in hls_cmd.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/hls_ffmpeg.h"
#include "core/config.h"
#include "core/hls/m3u8.h"
#include "core/hls/package.h"
#include "http/client.h"

namespace shoal::cli {

// Blobs by digest and the hls/NAME tags. A file is hashed first (streamed) and sent
// only when the origin does not have it yet, so publishing the same bytes twice moves
// nothing but HEAD requests.
class HlsOrigin {
 public:
  struct Counts {
    uint64_t uploaded = 0;  // blobs sent
    uint64_t present = 0;   // blobs the origin already had
    uint64_t bytes_uploaded = 0;
  };

  HlsOrigin(Url url, http::Headers auth, const http::ClientOptions& options);

  Result<hls::BlobRef> put_file(const std::string& path);
  Result<hls::BlobRef> put_bytes(std::string_view bytes);
  // The package hls/NAME points at; nullopt when there is no such tag.
  Result<std::optional<std::pair<Digest, hls::Package>>> current(const std::string& name);
  // Stores the manifest and moves hls/NAME to it.
  Result<Digest> publish(const hls::Package& package);

  const Counts& counts() const { return counts_; }
  const Url& url() const { return url_; }

 private:
  Result<bool> has_blob(const Digest& d);
  Result<void> put_tag(const std::string& tag, const Digest& d);
  Result<std::string> get_blob(const Digest& d, uint64_t max_bytes);
  Error refused(std::string_view what, const http::Response& r) const;
  http::Headers with_auth(http::Headers h) const;

  Url url_;
  http::Headers auth_;
  http::Client client_;
  Counts counts_;
  std::unordered_set<Digest> known_;  // digests the origin is known to hold
};

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

struct IngestHints {
  std::vector<std::string> names;   // used in order instead of the derived names
  double frame_rate = 0;            // known (we transcoded): no probe for it
  std::function<bool()> cancelled;  // checked before each file: Errc::cancelled when true
};

// Uploads every init and media segment of INPUT and returns the VOD package for them
// (name, source and ladder are left for the caller). Bandwidths are measured from
// the segment sizes, never taken from the playlists.
Result<hls::Package> ingest(const std::string& input, HlsOrigin& origin, const IngestHints& hints);

// A rendition's description from its multivariant entry, probing the first segment
// (with its init) only for what the entry leaves out.
Result<hls::Rendition> describe_rendition(const VariantSource& v,
                                          const std::optional<std::string>& init,
                                          const std::string& first_segment,
                                          double known_frame_rate);

// max(the playlist's TARGETDURATION, each segment's duration rounded): RFC 8216 4.3.3.1.
uint32_t target_duration(uint32_t declared, const std::vector<hls::Segment>& segments);

// ---- the command line (hls_cmd.cc) ----

int hls_publish_main(const Args& args);
int hls_live_main(const Args& args);

// Flags both subcommands take, on top of the client flags.
std::vector<ConfigKey> hls_keys(std::string_view default_segment_seconds);

struct HlsSettings {
  std::string name;  // NAME of hls/NAME
  std::vector<Rung> ladder;
  double segment_seconds = 4;
  bool quiet = false;
};
// Errc::bad_request naming the flag for anything wrong.
Result<HlsSettings> hls_settings(const Config& cfg);
// The origin client from --origin or $SHOAL_ORIGIN and the token flags.
Result<std::unique_ptr<HlsOrigin>> connect_origin(const Config& cfg);

// SIGINT/SIGTERM set a flag instead of killing us, so ffmpeg is stopped and temporary
// files are removed; a blocked poll() returns early with EINTR.
void install_stop_handlers();
bool stop_requested();
int stop_signal();  // the signal that asked us to stop, 0 if none

// A private directory under $TMPDIR (else /tmp), removed with everything in it.
class TempDir {
 public:
  static Result<TempDir> create(std::string_view prefix);
  TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace shoal::cli
