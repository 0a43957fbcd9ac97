// Parsing of tracker queries: GET /announce (BEP 3, with BEP 23 compact, BEP 7 IPv6)
// and GET /scrape (BEP 48). Pure functions over the raw query string, so every odd
// input can be unit-tested; each error names the field, as it becomes the
// `failure reason` a BitTorrent client shows its user.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace shoal::tracker {

inline constexpr size_t kHashBytes = 20;  // info_hash and peer_id, raw

// Shoal's announce extension: the pieces the announcing agent holds, as the hex of a
// BitTorrent bitfield (piece 0 in the high bit of the first byte). Standard clients
// never send it. At most kMaxHavePieces pieces: parse_and_bind() refuses metainfo over
// 8 MiB and a v2 piece layer takes 32 bytes a piece, so no Shoal blob has more than
// 2^18 pieces; a peer entry then holds at most 32 KiB of bitfield.
inline constexpr std::string_view kHaveParam = "shoal_have";
inline constexpr uint32_t kMaxHavePieces = 1u << 18;

enum class AnnounceEvent { none, started, completed, stopped };
// "started", "completed", "stopped", or "none" for a regular re-announce.
std::string_view event_name(AnnounceEvent e);

struct AnnounceRequest {
  std::string info_hash;  // 20 raw bytes
  std::string peer_id;    // 20 raw bytes
  uint16_t port = 0;      // 1..65535
  uint64_t uploaded = 0;
  uint64_t downloaded = 0;
  uint64_t left = 0;
  bool compact = false;     // compact=1
  bool no_peer_id = false;  // no_peer_id=1: leave "peer id" out of dict peers
  uint32_t numwant = 0;     // already defaulted and capped
  AnnounceEvent event = AnnounceEvent::none;
  // Addresses the peer asked to be reached at, raw network-order bytes (4 or 16):
  // ip= of either family, ipv6= (BEP 7). Empty when not given.
  std::string ip;
  std::string ipv6;
  // shoal_have decoded to raw bitfield bytes; empty when not sent. Its length is only
  // checked against the piece count by check_have(), when the tracker knows the count.
  std::string have;
};

struct AnnounceLimits {
  uint32_t default_numwant = 50;
  uint32_t max_numwant = 200;  // larger requests are capped, not refused
};

// Errors are Errc::bad_request with messages such as
// "invalid info_hash: must be 20 bytes, got 19" or "missing port".
Result<AnnounceRequest> parse_announce(std::string_view query, const AnnounceLimits& limits = {});

// Whether a decoded shoal_have fits a torrent of `pieces` pieces: exactly
// ceil(pieces / 8) bytes, the spare bits past the last piece zero. Errors name the
// field ("invalid shoal_have: ...") for the failure reason.
Result<void> check_have(std::string_view have, uint32_t pieces);

// The info_hash values of a scrape query (each 20 raw bytes), at most `max_hashes`.
// None means a full scrape, which Shoal answers with an empty `files` dict.
Result<std::vector<std::string>> parse_scrape(std::string_view query, size_t max_hashes = 256);

// An IP literal (IPv4 dotted quad, or IPv6 with or without brackets) as 4 or 16 raw
// bytes; an IPv4-mapped IPv6 address becomes its 4 IPv4 bytes. nullopt otherwise.
std::optional<std::string> parse_ip(std::string_view text);
// The address part of "ip:port" as Exchange::remote_address() gives it ("::1:5000"
// for IPv6, no brackets), as raw bytes; nullopt when unparseable.
std::optional<std::string> ip_of_remote(std::string_view remote);
// Raw 4 or 16 bytes back to text ("127.0.0.1", "::1").
std::string ip_to_string(std::string_view raw);

}  // namespace shoal::tracker
