#include "tracker/announce.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "http/util.h"
#include "core/text.h"

namespace shoal::tracker {
namespace {

Error bad(std::string msg) { return Error(Errc::bad_request, std::move(msg)); }

struct Param {
  std::string_view key;    // raw; tracker keys are plain ASCII and never escaped
  std::string_view value;  // still percent-encoded
};

std::vector<Param> split_query(std::string_view query) {
  std::vector<Param> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) out.push_back({pair, {}});
    else out.push_back({pair.substr(0, eq), pair.substr(eq + 1)});
  }
  return out;
}

const Param* find(const std::vector<Param>& params, std::string_view key) {
  for (const Param& p : params) {
    if (p.key == key) return &p;
  }
  return nullptr;
}

// Binary fields are decoded without '+' → space: clients escape every byte outside
// the unreserved set, so a literal '+' can only mean the byte 0x2B.
Result<std::string> hash_field(const std::vector<Param>& params, std::string_view key) {
  const Param* p = find(params, key);
  if (p == nullptr) return bad("missing " + std::string(key));
  auto raw = text::percent_decode(p->value, false);
  if (!raw) return bad("invalid " + std::string(key) + ": bad percent-encoding");
  if (raw->size() != kHashBytes) {
    return bad("invalid " + std::string(key) + ": must be 20 bytes, got " +
               std::to_string(raw->size()));
  }
  return std::move(*raw);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

Result<uint64_t> counter_field(const std::vector<Param>& params, std::string_view key,
                               bool required) {
  const Param* p = find(params, key);
  if (p == nullptr) {
    if (required) return bad("missing " + std::string(key));
    return uint64_t{0};
  }
  auto v = text::parse_uint<uint64_t>(p->value);
  if (!v) return bad("invalid " + std::string(key) + ": expected an unsigned integer");
  return *v;
}

Result<uint16_t> port_field(const std::vector<Param>& params) {
  const Param* p = find(params, "port");
  if (p == nullptr) return bad("missing port");
  auto v = text::parse_uint<uint64_t>(p->value);
  if (!v || *v < 1 || *v > 65535) return bad("invalid port: expected 1 to 65535");
  return static_cast<uint16_t>(*v);
}

Result<uint32_t> numwant_field(const std::vector<Param>& params, const AnnounceLimits& limits) {
  const Param* p = find(params, "numwant");
  if (p == nullptr || p->value.empty()) return std::min(limits.default_numwant, limits.max_numwant);
  // Any run of digits is a valid wish, however large: it is capped, not refused.
  if (!all_digits(p->value)) return bad("invalid numwant: expected an unsigned integer");
  auto v = text::parse_uint<uint64_t>(p->value);
  uint64_t n = v ? *v : std::numeric_limits<uint64_t>::max();
  return static_cast<uint32_t>(std::min<uint64_t>(n, limits.max_numwant));
}

Result<AnnounceEvent> event_field(const std::vector<Param>& params) {
  const Param* p = find(params, "event");
  if (p == nullptr) return AnnounceEvent::none;
  std::string_view v = p->value;
  if (v.empty() || v == "empty") return AnnounceEvent::none;
  if (v == "started") return AnnounceEvent::started;
  if (v == "completed") return AnnounceEvent::completed;
  if (v == "stopped") return AnnounceEvent::stopped;
  return bad("invalid event: expected started, completed, stopped or empty");
}

Result<std::string> ip_field(const std::vector<Param>& params, std::string_view key, bool v6_only) {
  const Param* p = find(params, key);
  if (p == nullptr || p->value.empty()) return std::string();
  auto text = text::percent_decode(p->value, false);
  std::optional<std::string> raw;
  if (text) raw = parse_ip(*text);
  if (!raw || (v6_only && raw->size() != 16)) {
    return bad("invalid " + std::string(key) + ": expected an IP" + (v6_only ? "v6" : "") +
               " address");
  }
  return std::move(*raw);
}

// Hex, not base64: the same encoding as the origin's Shoal-Held header and
// GET /swarms, and 2048 pieces (a 512 MiB blob) still cost only 512 characters.
Result<std::string> have_field(const std::vector<Param>& params) {
  const Param* p = find(params, kHaveParam);
  if (p == nullptr) return std::string();
  const std::string key(kHaveParam);
  constexpr size_t kMaxDigits = size_t{kMaxHavePieces} / 4;
  if (p->value.size() > kMaxDigits) {
    return bad("invalid " + key + ": over " + std::to_string(kMaxHavePieces) + " pieces (" +
               std::to_string(kMaxDigits) + " hex digits)");
  }
  if (p->value.empty() || p->value.size() % 2 != 0) {
    return bad("invalid " + key + ": expected hex digits, two per byte of the bitfield");
  }
  std::string raw(p->value.size() / 2, '\0');
  for (size_t i = 0; i < raw.size(); ++i) {
    const int hi = text::hex_digit(p->value[2 * i]), lo = text::hex_digit(p->value[2 * i + 1]);
    if (hi < 0 || lo < 0) return bad("invalid " + key + ": not a hex digit");
    raw[i] = static_cast<char>(hi << 4 | lo);
  }
  return raw;
}

bool flag(const std::vector<Param>& params, std::string_view key) {
  const Param* p = find(params, key);
  return p != nullptr && p->value == "1";
}

}  // namespace

std::string_view event_name(AnnounceEvent e) {
  switch (e) {
    case AnnounceEvent::started: return "started";
    case AnnounceEvent::completed: return "completed";
    case AnnounceEvent::stopped: return "stopped";
    case AnnounceEvent::none: break;
  }
  return "none";
}

Result<AnnounceRequest> parse_announce(std::string_view query, const AnnounceLimits& limits) {
  auto params = split_query(query);
  AnnounceRequest r;
  auto info_hash = hash_field(params, "info_hash");
  if (!info_hash) return info_hash.error();
  r.info_hash = std::move(*info_hash);
  auto peer_id = hash_field(params, "peer_id");
  if (!peer_id) return peer_id.error();
  r.peer_id = std::move(*peer_id);
  auto port = port_field(params);
  if (!port) return port.error();
  r.port = *port;
  // BEP 3 makes uploaded/downloaded/left mandatory, but clients differ in what they
  // send on "stopped"; only `left` matters here (it decides complete vs incomplete).
  auto uploaded = counter_field(params, "uploaded", false);
  if (!uploaded) return uploaded.error();
  r.uploaded = *uploaded;
  auto downloaded = counter_field(params, "downloaded", false);
  if (!downloaded) return downloaded.error();
  r.downloaded = *downloaded;
  auto left = counter_field(params, "left", true);
  if (!left) return left.error();
  r.left = *left;
  auto numwant = numwant_field(params, limits);
  if (!numwant) return numwant.error();
  r.numwant = *numwant;
  auto event = event_field(params);
  if (!event) return event.error();
  r.event = *event;
  auto ip = ip_field(params, "ip", false);
  if (!ip) return ip.error();
  r.ip = std::move(*ip);
  auto ipv6 = ip_field(params, "ipv6", true);
  if (!ipv6) return ipv6.error();
  r.ipv6 = std::move(*ipv6);
  auto have = have_field(params);
  if (!have) return have.error();
  r.have = std::move(*have);
  r.compact = flag(params, "compact");
  r.no_peer_id = flag(params, "no_peer_id");
  return r;
}

Result<void> check_have(std::string_view have, uint32_t pieces) {
  const std::string key(kHaveParam);
  const size_t bytes = (size_t{pieces} + 7) / 8;
  if (have.size() != bytes) {
    return bad("invalid " + key + ": expected " + std::to_string(bytes * 2) + " hex digits for " +
               std::to_string(pieces) + " pieces, got " + std::to_string(have.size() * 2));
  }
  const unsigned spare = static_cast<unsigned>(bytes * 8 - pieces);  // 0..7 low bits
  const auto last = bytes == 0 ? 0u : static_cast<unsigned char>(have.back());
  if ((last & ((1u << spare) - 1)) != 0) {
    return bad("invalid " + key + ": a bit is set past the last piece (" +
               std::to_string(pieces) + " pieces)");
  }
  return {};
}

Result<std::vector<std::string>> parse_scrape(std::string_view query, size_t max_hashes) {
  std::vector<std::string> hashes;
  for (const Param& p : split_query(query)) {
    if (p.key != "info_hash") continue;
    if (hashes.size() == max_hashes) {
      return bad("too many info_hash values: at most " + std::to_string(max_hashes));
    }
    auto raw = text::percent_decode(p.value, false);
    if (!raw) return bad("invalid info_hash: bad percent-encoding");
    if (raw->size() != kHashBytes) {
      return bad("invalid info_hash: must be 20 bytes, got " + std::to_string(raw->size()));
    }
    hashes.push_back(std::move(*raw));
  }
  return hashes;
}

std::optional<std::string> parse_ip(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string z(text);  // inet_pton needs a terminated string
  if (z.find('\0') != std::string::npos) return std::nullopt;
  unsigned char buf[16];
  if (inet_pton(AF_INET, z.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  if (inet_pton(AF_INET6, z.c_str(), buf) != 1) return std::nullopt;
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they are IPv4 peers.
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(buf, kMapped, 12) == 0) return std::string(reinterpret_cast<char*>(buf + 12), 4);
  return std::string(reinterpret_cast<char*>(buf), 16);
}

std::optional<std::string> ip_of_remote(std::string_view remote) {
  size_t colon = remote.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return parse_ip(remote.substr(0, colon));
}

std::string ip_to_string(std::string_view raw) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (raw.size() == 4) inet_ntop(AF_INET, raw.data(), buf, sizeof buf);
  else if (raw.size() == 16) inet_ntop(AF_INET6, raw.data(), buf, sizeof buf);
  return buf;
}

}  // namespace shoal::tracker
