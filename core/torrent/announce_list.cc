#include "core/torrent/announce_list.h"

#include <map>

#include <libtorrent/bdecode.hpp>
#include <libtorrent/error_code.hpp>

#include "core/torrent/metainfo.h"

namespace shoal {

namespace lt = libtorrent;

namespace {

constexpr std::string_view kAnnounce = "announce";
constexpr std::string_view kAnnounceList = "announce-list";

void put_string(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

std::string one_tier(const std::vector<std::string>& urls) {
  std::string out = "ll";
  for (const auto& url : urls) put_string(out, url);
  out += "ee";
  return out;
}

Error rejected(const std::string& why) {
  return Error(Errc::protocol_error, "cannot set the trackers of a metainfo: " + why);
}

}  // namespace

Result<std::string> with_announce_list(std::string_view metainfo,
                                       const std::vector<std::string>& announce_urls) {
  if (metainfo.size() > kMaxMetainfoBytes) return rejected("too large");
  lt::error_code ec;
  const lt::bdecode_node root = lt::bdecode(
      lt::span<const char>(metainfo.data(), static_cast<std::ptrdiff_t>(metainfo.size())), ec,
      nullptr, /*depth_limit=*/32, /*token_limit=*/100000);
  if (ec) return rejected(ec.message());
  if (root.type() != lt::bdecode_node::dict_t) return rejected("not a dictionary");
  if (root.dict_find_dict("info").type() != lt::bdecode_node::dict_t) {
    return rejected("no info dictionary");
  }
  // Keys map to their values' encoded bytes; std::string orders keys as raw bytes,
  // which is the order bencoding requires.
  std::map<std::string, std::string> entries;
  for (int i = 0; i < root.dict_size(); ++i) {
    const auto [lt_key, value] = root.dict_at(i);
    const std::string_view key(lt_key.data(), lt_key.size());  // lt's is boost's string_view
    if (key == kAnnounce || key == kAnnounceList) continue;
    const lt::span<const char> raw = value.data_section();
    entries.emplace(std::string(key), std::string(raw.data(), static_cast<size_t>(raw.size())));
  }
  if (!announce_urls.empty()) {
    std::string first;
    put_string(first, announce_urls.front());
    entries[std::string(kAnnounce)] = std::move(first);
    entries[std::string(kAnnounceList)] = one_tier(announce_urls);
  }
  std::string out = "d";
  for (const auto& [key, value] : entries) {
    put_string(out, key);
    out += value;
  }
  out += 'e';
  return out;
}

}  // namespace shoal
