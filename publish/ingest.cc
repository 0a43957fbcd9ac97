#include "publish/ingest.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/file_io.h"

namespace shoal::publish {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxPlaylist = 64u << 20;  // a day of 1 s segments is ~5 MiB

std::string unique_name(std::string wanted, size_t index, const std::vector<VariantSource>& taken) {
  auto used = [&](const std::string& n) {
    return std::any_of(taken.begin(), taken.end(), [&](const auto& v) { return v.name == n; });
  };
  if (!wanted.empty() && !used(wanted)) return wanted;
  std::string base = "v" + std::to_string(index);
  std::string n = base;
  for (int k = 2; used(n); ++k) n = base + "-" + std::to_string(k);
  return n;
}

// The directory a variant's URI names ("v0/index.m3u8" -> "v0"), or "".
std::string variant_dir(const std::string& uri) {
  fs::path p(uri);
  return p.has_parent_path() ? p.parent_path().filename().string() : "";
}

Result<std::vector<VariantSource>> variants_of(const std::string& path, const std::string& text) {
  std::vector<VariantSource> out;
  if (!hls::is_multivariant(text)) {  // a lone media playlist: one rendition
    out.push_back({"v0", path, {}});
    return out;
  }
  auto master = hls::parse_multivariant(text);
  if (!master) return Error(master.error().code, path + ": " + master.error().message);
  if (master->variants.empty()) return Error(Errc::bad_request, path + " lists no variants");
  for (size_t i = 0; i < master->variants.size(); ++i) {
    const auto& entry = master->variants[i];
    auto playlist = resolve_uri(path, entry.uri);
    if (!playlist) return playlist.error();
    std::string name = unique_name(normalise_rendition_name(variant_dir(entry.uri)), i, out);
    out.push_back({name, *playlist, entry});
  }
  return out;
}

// master.m3u8, else the one multivariant playlist, else the only playlist.
Result<std::string> top_playlist(const std::string& dir) {
  if (fs::path m = fs::path(dir) / "master.m3u8"; fs::is_regular_file(m)) return m.string();
  std::error_code ec;
  std::vector<std::string> all, multivariant;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".m3u8" || !it->is_regular_file()) continue;
    all.push_back(it->path().string());
    auto text = read_small_file(all.back(), kMaxPlaylist);
    if (!text) return Error(text.error().code, "read " + all.back() + ": " + text.error().message);
    if (hls::is_multivariant(*text)) multivariant.push_back(all.back());
  }
  if (ec) return Error(Errc::io_error, "cannot read directory " + dir + ": " + ec.message());
  if (multivariant.size() == 1) return multivariant[0];
  if (multivariant.size() > 1) {
    return Error(Errc::bad_request,
                 dir + " has " + std::to_string(multivariant.size()) +
                     " multivariant playlists: give the one to publish as INPUT");
  }
  if (all.size() == 1) return all[0];
  if (all.empty()) return Error(Errc::bad_request, "no .m3u8 playlist in " + dir);
  return Error(Errc::bad_request, dir +
                                      " has several media playlists and no multivariant one: "
                                      "give the one to publish as INPUT");
}

Result<hls::Rendition> ingest_rendition(const VariantSource& v, BlobSink& origin,
                                        const IngestHints& hints, uint32_t& target,
                                        std::optional<hls::SegmentFormat>& format) {
  auto media = read_media_playlist(v.playlist_path);
  if (!media) return media.error();
  if (media->segments.empty())
    return Error(Errc::bad_request, v.playlist_path + " lists no segments");
  auto this_format = media->map_uri ? hls::SegmentFormat::fmp4 : hls::SegmentFormat::ts;
  if (format && *format != this_format) {
    return Error(Errc::bad_request, v.playlist_path + " mixes fMP4 and MPEG-TS renditions");
  }
  format = this_format;
  std::optional<std::string> init_path;
  if (media->map_uri) {
    auto p = resolve_uri(v.playlist_path, *media->map_uri);
    if (!p) return p.error();
    init_path = *p;
  }
  std::vector<std::string> files;
  for (const auto& s : media->segments) {
    auto p = resolve_uri(v.playlist_path, s.uri);
    if (!p) return p.error();
    files.push_back(*p);
  }
  auto upload = [&](const std::string& file) -> Result<hls::BlobRef> {
    auto blob = origin.put_file(file);
    if (!blob && !fs::exists(file))
      return Error(blob.error().code,
                   blob.error().message + " (listed in " + v.playlist_path + ")");
    return blob;
  };
  auto r = describe_rendition(v, init_path, files[0], hints.frame_rate, hints.probe);
  if (!r) return r.error();
  if (init_path) {
    auto blob = upload(*init_path);
    if (!blob) return blob.error();
    r->init = *blob;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (hints.cancelled && hints.cancelled())
      return Error(Errc::cancelled, "interrupted before the package was published");
    auto blob = upload(files[i]);
    if (!blob) return blob.error();
    r->segments.push_back({media->segments[i].duration, *blob});
  }
  r->media_sequence = media->media_sequence;
  auto bw = hls::measure(r->segments);
  r->bandwidth = bw.peak;
  r->average_bandwidth = bw.average;
  target = std::max(target, target_duration(media->target_duration, r->segments));
  return r;
}

}  // namespace

std::string normalise_rendition_name(std::string_view text) {
  std::string n;
  for (char c : text) {
    char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-';
    if (!ok) l = '-';
    if (n.empty() && (l == '-' || l == '_')) continue;  // must start alphanumeric
    if (l == '-' && n.ends_with('-')) continue;
    n += l;
  }
  if (n.size() > 32) n.resize(32);
  while (n.ends_with('-')) n.pop_back();
  return hls::valid_rendition_name(n) ? n : "";
}

Result<std::string> resolve_uri(const std::string& playlist_path, const std::string& uri) {
  if (uri.find("://") != std::string::npos || uri.starts_with("data:")) {
    return Error(
        Errc::bad_request,
        playlist_path + ": " + uri + " is a URL; only files beside the playlist can be published");
  }
  std::string file = uri.substr(0, uri.find('?'));
  fs::path p(file);
  if (p.is_absolute()) return p.string();
  return (fs::path(playlist_path).parent_path() / p).lexically_normal().string();
}

Result<hls::MediaPlaylist> read_media_playlist(const std::string& path) {
  auto text = read_small_file(path, kMaxPlaylist);
  if (!text) return Error(text.error().code, "read " + path + ": " + text.error().message);
  if (hls::is_multivariant(*text))
    return Error(Errc::bad_request,
                 path + " is a multivariant playlist where a media playlist was expected");
  auto media = hls::parse_media(*text);
  if (!media) return Error(media.error().code, path + ": " + media.error().message);
  return media;
}

Result<std::vector<VariantSource>> find_variants(const std::string& input) {
  std::error_code ec;
  auto st = fs::status(input, ec);
  if (!fs::exists(st)) {
    return Error(Errc::not_found,
                 "cannot read " + input + ": " +
                     (ec ? ec.message() : std::string("no such file or directory")));
  }
  std::string top = input;
  if (fs::is_directory(st)) {
    auto t = top_playlist(input);
    if (!t) return t.error();
    top = *t;
  }
  auto text = read_small_file(top, kMaxPlaylist);
  if (!text) return Error(text.error().code, "read " + top + ": " + text.error().message);
  return variants_of(top, *text);
}

Result<hls::Rendition> describe_rendition(const VariantSource& v,
                                          const std::optional<std::string>& init,
                                          const std::string& first_segment, double known_frame_rate,
                                          const SegmentProbe& probe) {
  hls::Rendition r;
  r.name = v.name;
  r.width = v.entry.width;
  r.height = v.entry.height;
  r.frame_rate = known_frame_rate > 0 ? known_frame_rate : v.entry.frame_rate;
  r.codecs = v.entry.codecs;
  if (r.width && r.height && r.frame_rate > 0 && !r.codecs.empty()) return r;
  auto probed = probe(init, first_segment);
  if (!probed) {
    // Without ffprobe the package is still playable; players probe what CODECS omits.
    if (probed.error().is(Errc::not_found)) return r;
    return Error(probed.error().code, v.playlist_path + ": " + probed.error().message);
  }
  if (!r.width || !r.height) {
    r.width = probed->width;
    r.height = probed->height;
  }
  if (r.frame_rate <= 0) r.frame_rate = std::round(probed->frame_rate * 1000) / 1000;
  if (r.codecs.empty()) r.codecs = probed->codecs;
  return r;
}

uint32_t target_duration(uint32_t declared, const std::vector<hls::Segment>& segments) {
  uint32_t t = declared;
  for (const auto& s : segments) t = std::max(t, static_cast<uint32_t>(std::lround(s.duration)));
  return t;
}

Result<hls::Package> ingest(const std::string& input, BlobSink& origin, const IngestHints& hints) {
  auto variants = find_variants(input);
  if (!variants) return variants.error();
  hls::Package p;
  p.kind = hls::Kind::vod;
  p.ended = true;
  std::optional<hls::SegmentFormat> format;
  for (size_t i = 0; i < variants->size(); ++i) {
    VariantSource& v = (*variants)[i];
    if (i < hints.names.size()) v.name = hints.names[i];
    auto r = ingest_rendition(v, origin, hints, p.target_duration, format);
    if (!r) return r.error();
    p.renditions.push_back(std::move(*r));
  }
  p.format = format.value_or(hls::SegmentFormat::fmp4);
  return p;
}

}  // namespace shoal::publish
