// /hls/<name>/master.m3u8, /hls/<name>/<rendition>/index.m3u8 and
// /hls/<name>/<rendition>/<digest>.{m4s,mp4,ts}. Playlists are made from the package
// manifest the tag hls/<name> points to; segments are content-addressed blobs served
// by the same cache code as /blobs/ (so a segment stays fetchable after a live
// window has moved past it). Every response carries CORS headers for web players.
#include <algorithm>

#include "core/text.h"
#include "http/failure.h"
#include "core/oci/oci.h"
#include "edge/edge.h"
#include "edge/edge_counters.h"
#include "edge/hls_playlist.h"
#include "http/outbound.h"

namespace shoal::edge {
namespace {

using bhttp::field;
using bhttp::status;
using bhttp::verb;

constexpr std::string_view kPlaylistType = "application/vnd.apple.mpegurl";

std::string_view segment_type(std::string_view file) {
  return file.ends_with(".ts") ? "video/mp2t" : "video/mp4";
}

template <class T>
std::optional<T> parse_number(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return text::parse_uint<T>(*s);
}

// "<name>/<a>[/<b>]" into its parts; nullopt for more parts or empty ones.
std::optional<std::vector<std::string_view>> split_parts(std::string_view rest) {
  std::vector<std::string_view> parts;
  while (parts.size() < 4) {
    size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (parts.back().empty()) return std::nullopt;
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  return parts;
}

}  // namespace

awaitable<bool> Edge::cors(http::Exchange& ex) {
  const auto& allowed = opts_.cors_origins;
  std::string_view origin = ex.header(field::origin);
  std::string allow;
  if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) {
    allow = "*";
  } else if (!origin.empty() &&
             std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) {
    allow = std::string(origin);
    ex.add_response_header("Vary", "Origin");
  }
  if (!allow.empty()) {
    ex.add_response_header("Access-Control-Allow-Origin", allow);
    ex.add_response_header("Access-Control-Expose-Headers",
                           "Content-Length, Content-Range, Age, X-Cache");
  }
  if (ex.method() != verb::options) co_return false;
  http::Head head;
  head.result(status::no_content);
  if (!allow.empty()) {
    std::string_view asked = ex.header(field::access_control_request_headers);
    head.set(field::access_control_allow_methods, "GET, HEAD, OPTIONS");
    head.set(field::access_control_allow_headers, asked.empty() ? "Range" : std::string(asked));
    head.set(field::access_control_max_age, "86400");
  }
  co_await ex.respond(std::move(head), "");
  co_return true;
}

awaitable<void> Edge::hls(http::Exchange& ex, std::string_view rest, CacheStatus& cache) {
  bool preflight = co_await cors(ex);
  if (preflight) co_return;
  if (ex.method() != verb::get && ex.method() != verb::head) {
    co_return co_await http::respond_method_not_allowed(ex, "GET, HEAD, OPTIONS");
  }
  auto parts = split_parts(rest);
  if (!parts || !oci::valid_tag((*parts)[0])) {
    co_return co_await ex.respond_error(status::not_found, "NOT_FOUND",
                                        "HLS paths are /hls/<name>/master.m3u8, "
                                        "/hls/<name>/<rendition>/index.m3u8 and its segments");
  }
  bool admitted = co_await admit(ex);
  if (!admitted) co_return;
  const std::string name((*parts)[0]);
  if (parts->size() == 2) {
    if ((*parts)[1] != "master.m3u8") {
      co_return co_await ex.respond_error(status::not_found, "NOT_FOUND", "no such HLS file");
    }
    co_return co_await hls_playlist(ex, name, "master.m3u8", {});
  }
  std::string_view rendition = (*parts)[1];
  std::string_view file = (*parts)[2];
  if (!hls::valid_rendition_name(rendition)) {
    co_return co_await ex.respond_error(status::not_found, "RENDITION_UNKNOWN",
                                        "no such rendition");
  }
  if (file == "index.m3u8") co_return co_await hls_playlist(ex, name, file, rendition);
  auto digest = hls::digest_of_uri(file);
  if (!digest) {
    co_return co_await ex.respond_error(status::not_found, "NOT_FOUND",
                                        "segments are named <sha256 hex>.m4s, .mp4 or .ts");
  }
  co_await get_blob(ex, digest->str(), cache, segment_type(file));
}

awaitable<void> Edge::hls_playlist(http::Exchange& ex, const std::string& name,
                                   std::string_view file, std::string_view rendition) {
  auto lookup = [&] { return hls_catalog_.get(name, HlsCatalog::Clock::now()); };
  auto package = co_await http::outbound(lookup);
  if (!package) co_return co_await http::respond_failure(ex, package.error(), "PACKAGE_UNKNOWN");
  const hls::Package& p = **package;
  std::string text;
  if (file == "master.m3u8") {
    hls::VariantFilter filter;
    filter.max_height = parse_number<uint32_t>(ex.query_param("max_height"));
    filter.max_bandwidth = parse_number<uint64_t>(ex.query_param("max_bandwidth"));
    bool malformed = (ex.query_param("max_height") && !filter.max_height) ||
                     (ex.query_param("max_bandwidth") && !filter.max_bandwidth);
    if (malformed) {
      co_return co_await ex.respond_error(status::bad_request, "BAD_REQUEST",
                                          "max_height and max_bandwidth are whole numbers");
    }
    text = hls::master_playlist(p, filter);
  } else {
    const hls::Rendition* r = hls::find_rendition(p, rendition);
    if (!r) {
      co_return co_await ex.respond_error(
          status::not_found, "RENDITION_UNKNOWN",
          "package " + name + " has no rendition " + std::string(rendition));
    }
    text = hls::media_playlist(p, *r);
  }
  // Caches in front keep a live playlist no longer than the edge itself does.
  auto max_age = std::max<int64_t>(1, HlsCatalog::ttl(p).count() / 1000);
  http::Head head;
  head.result(status::ok);
  head.set(field::content_type, std::string(kPlaylistType));
  head.set(field::cache_control, "public, max-age=" + std::to_string(max_age));
  co_await ex.respond(std::move(head), text);
}

}  // namespace shoal::edge
