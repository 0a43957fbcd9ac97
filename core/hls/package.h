// An HLS package manifest: what `shoal hls publish|live` stores (as a blob, tagged
// "hls/<name>") and what the edge makes every playlist from. Segments and init
// segments are blobs named by digest, so the swarm distributes them like any other.
//
// JSON, written canonically (fixed key order, fixed number formats) so the same
// package always has the same bytes, hence the same digest:
// {"schema":"shoal.hls.v1","name":"demo","kind":"vod","segment_format":"fmp4",
//  "target_duration":4,"ended":true,"source":"sha256:…",
//  "renditions":[{"name":"720p","width":1280,"height":720,"frame_rate":30.000,
//    "codecs":"avc1.64001f,mp4a.40.2","bandwidth":2400000,"average_bandwidth":1900000,
//    "init":{"digest":"sha256:…","size":1234},"media_sequence":0,
//    "segments":[{"duration":4.000,"digest":"sha256:…","size":123456}, …]}, …]}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace shoal::hls {

enum class Kind { vod, live };
enum class SegmentFormat { fmp4, ts };

struct BlobRef {
  Digest digest;
  uint64_t size = 0;
};

struct Segment {
  double duration = 0;  // seconds, as EXTINF says
  BlobRef blob;
};

struct Rendition {
  std::string name;  // path component: [a-z0-9][a-z0-9_-]{0,31}
  uint32_t width = 0;
  uint32_t height = 0;
  double frame_rate = 0;  // 0: unknown, FRAME-RATE left out
  std::string codecs;     // RFC 6381 list, e.g. "avc1.64001f,mp4a.40.2"; may be empty
  // bits per second: the peak segment bit rate (RFC 8216bis 4.4.6.2) and the mean
  // over the whole rendition, both measured from the segments' sizes and durations.
  uint64_t bandwidth = 0;
  uint64_t average_bandwidth = 0;
  std::optional<BlobRef> init;  // fMP4 only: EXT-X-MAP
  uint64_t media_sequence = 0;  // sequence number of segments[0]
  std::vector<Segment> segments;
};

struct Package {
  std::string name;  // the NAME of hls/NAME
  Kind kind = Kind::vod;
  SegmentFormat format = SegmentFormat::fmp4;
  uint32_t target_duration = 0;  // whole seconds, >= every segment's rounded duration
  bool ended = true;             // live: the input has ended (EXT-X-ENDLIST)
  std::optional<Digest> source;  // digest of the input file a ladder was made from
  std::string ladder;            // the ladder settings that source was transcoded with
  std::vector<Rendition> renditions;
};

// Canonical JSON (see above).
std::string to_json(const Package& p);
// Errc::bad_request with the reason for anything malformed or inconsistent (unknown
// schema, bad digests, bad rendition names, no renditions, negative durations).
Result<Package> parse_package(std::string_view json);

// The peak and mean bit rates of a rendition's segments (init included in neither).
struct Bandwidth {
  uint64_t peak = 0;
  uint64_t average = 0;
};
Bandwidth measure(const std::vector<Segment>& segments);

bool valid_rendition_name(std::string_view name);
// "<64 hex>.m4s" / "<64 hex>.ts" for segments, "<64 hex>.mp4" for init segments:
// the URI a playlist uses, relative to the rendition's directory.
std::string segment_uri(const Segment& s, SegmentFormat f);
std::string init_uri(const BlobRef& init);
// The digest a segment URI names (either kind), or nullopt.
std::optional<Digest> digest_of_uri(std::string_view uri);

}  // namespace shoal::hls
