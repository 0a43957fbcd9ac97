#include "tracker/redis_entry.h"

namespace shoal::tracker {
namespace {

constexpr uint8_t kEntryVersion = 1;
constexpr uint8_t kFlagComplete = 1;
constexpr uint8_t kFlagOrigin = 2;

void put_u8(std::string& out, size_t v) { out += static_cast<char>(static_cast<uint8_t>(v)); }
void put_u16(std::string& out, uint16_t v) {
  put_u8(out, v >> 8);
  put_u8(out, v & 0xff);
}
void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) put_u8(out, (v >> shift) & 0xff);
}

// Reads fields front to back; any read past the end makes ok false.
struct Cursor {
  std::string_view rest;
  bool ok = true;

  uint32_t uint(size_t bytes) {
    if (rest.size() < bytes) {
      ok = false;
      return 0;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(rest[i]);
    rest.remove_prefix(bytes);
    return v;
  }
  std::string bytes(size_t n) {
    if (!ok || rest.size() < n) {
      ok = false;
      return {};
    }
    std::string v(rest.substr(0, n));
    rest.remove_prefix(n);
    return v;
  }
};

}  // namespace

std::optional<std::string> encode_entry(const PeerEntry& e) {
  if (e.peer_id.size() > 255 || (e.ipv4.size() != 0 && e.ipv4.size() != 4) ||
      (e.ipv6.size() != 0 && e.ipv6.size() != 16) || e.have.size() > kMaxStoredHaveBytes) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(16 + e.peer_id.size() + e.ipv4.size() + e.ipv6.size() + e.have.size());
  put_u8(out, kEntryVersion);
  put_u8(out, (e.complete ? kFlagComplete : 0) | (e.is_origin ? kFlagOrigin : 0));
  put_u16(out, e.port);
  put_u8(out, e.peer_id.size());
  out += e.peer_id;
  put_u8(out, e.ipv4.size());
  out += e.ipv4;
  put_u8(out, e.ipv6.size());
  out += e.ipv6;
  put_u32(out, static_cast<uint32_t>(e.have.size()));
  out += e.have;
  return out;
}

std::optional<PeerEntry> decode_entry(std::string_view bytes) {
  Cursor c{bytes};
  if (c.uint(1) != kEntryVersion || !c.ok) return std::nullopt;
  uint32_t flags = c.uint(1);
  if (flags & ~uint32_t{kFlagComplete | kFlagOrigin}) return std::nullopt;
  PeerEntry e;
  e.complete = flags & kFlagComplete;
  e.is_origin = flags & kFlagOrigin;
  e.port = static_cast<uint16_t>(c.uint(2));
  e.peer_id = c.bytes(c.uint(1));
  e.ipv4 = c.bytes(c.uint(1));
  e.ipv6 = c.bytes(c.uint(1));
  uint32_t have = c.uint(4);
  if (!c.ok || have > kMaxStoredHaveBytes) return std::nullopt;
  e.have = c.bytes(have);
  if (!c.ok || !c.rest.empty()) return std::nullopt;
  if ((e.ipv4.size() != 0 && e.ipv4.size() != 4) || (e.ipv6.size() != 0 && e.ipv6.size() != 16)) {
    return std::nullopt;
  }
  return e;
}

SwarmKeys swarm_keys(std::string_view prefix, std::string_view info_hash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string base(prefix);
  base += '{';
  for (char ch : info_hash) {
    auto b = static_cast<uint8_t>(ch);
    base += kHex[b >> 4];
    base += kHex[b & 0xf];
  }
  base += "}:";
  return {base + "peers", base + "expiry", base + "seeders", base + "downloaded"};
}

}  // namespace shoal::tracker
