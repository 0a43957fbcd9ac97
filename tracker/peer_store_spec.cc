#include "tracker/peer_store_spec.h"

#include "core/text.h"

namespace shoal::tracker {
namespace {

constexpr std::string_view kRedisScheme = "redis://";
constexpr std::string_view kSentinelScheme = "redis-sentinel://";

Error bad(std::string_view why) { return Error(Errc::bad_request, std::string(why)); }

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// "host", "host:port", "[v6]" or "[v6]:port".
Result<redis::HostPort> parse_server(std::string_view text, uint16_t default_port) {
  if (text.empty()) return bad("missing host");
  std::string_view host = text;
  std::string_view port;
  bool v6 = false;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return bad("unterminated IPv6 literal in \"" + std::string(text) + "\"");
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      return bad("junk after IPv6 literal in \"" + std::string(text) + "\"");
    }
    if (!rest.empty()) port = rest.substr(1);
    if (rest == ":") return bad("missing port in \"" + std::string(text) + "\"");
    v6 = true;
  } else if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    if (text.find(':', colon + 1) != std::string_view::npos) {
      return bad("an IPv6 address needs brackets: \"[" + std::string(text) + "]\"");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) return bad("missing port in \"" + std::string(text) + "\"");
  }
  if (host.empty()) return bad("missing host in \"" + std::string(text) + "\"");
  for (char c : host) {
    if (!name_char(c) && !(v6 && c == ':')) {
      return bad("invalid character in host \"" + std::string(host) + "\"");
    }
  }
  uint16_t number = default_port;
  if (!port.empty()) {
    auto p = port.size() <= 5 ? text::parse_uint<unsigned>(port) : std::nullopt;
    if (!p || *p == 0 || *p > 65535) {
      return bad("invalid port \"" + std::string(port) + "\": expected 1 to 65535");
    }
    number = static_cast<uint16_t>(*p);
  }
  return redis::HostPort{std::string(host), number};
}

Result<unsigned> parse_db(std::string_view text) {
  if (text.empty()) return 0u;
  auto db = text.size() <= 8 ? text::parse_uint<unsigned>(text) : std::nullopt;
  if (!db || *db > kMaxRedisDb) {
    return bad("invalid database \"" + std::string(text) + "\": expected a number from 0 to " +
               std::to_string(kMaxRedisDb));
  }
  return *db;
}

Result<void> refuse_url_extras(std::string_view rest) {
  if (rest.find('@') != std::string_view::npos) {
    return bad("credentials (user:password@) are not supported; protect Redis by network");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad("query strings and fragments are not supported");
  }
  return {};
}

Result<RedisTarget> parse_direct(std::string_view rest) {
  RedisTarget t;
  t.kind = RedisTarget::Kind::direct;
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (authority.find(',') != std::string_view::npos) {
    return bad("redis:// names one server; for several Sentinels use redis-sentinel://");
  }
  auto server = parse_server(authority, kRedisPort);
  if (!server) return server.error();
  t.servers.push_back(std::move(*server));
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (db.find('/') != std::string_view::npos) {
      return bad("expected redis://HOST[:PORT][/DB], got more path after the database");
    }
    auto n = parse_db(db);
    if (!n) return n.error();
    t.db = *n;
  }
  return t;
}

Result<RedisTarget> parse_sentinel(std::string_view rest) {
  RedisTarget t;
  t.kind = RedisTarget::Kind::sentinel;
  size_t slash = rest.find('/');
  std::string_view list = rest.substr(0, slash);
  if (list.empty()) return bad("missing Sentinel addresses");
  while (true) {
    size_t comma = list.find(',');
    auto server = parse_server(list.substr(0, comma), kSentinelPort);
    if (!server) return server.error();
    t.servers.push_back(std::move(*server));
    if (comma == std::string_view::npos) break;
    list = list.substr(comma + 1);
  }
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return bad("missing master name: expected redis-sentinel://HOST:PORT,.../MASTER");
  }
  std::string_view path = rest.substr(slash + 1);
  size_t db_slash = path.find('/');
  std::string_view master = path.substr(0, db_slash);
  if (master.empty()) {
    return bad("missing master name: expected redis-sentinel://HOST:PORT,.../MASTER");
  }
  for (char c : master) {
    if (!name_char(c)) {
      return bad("invalid character in master name \"" + std::string(master) + "\"");
    }
  }
  t.master_name = std::string(master);
  if (db_slash != std::string_view::npos) {
    std::string_view db = path.substr(db_slash + 1);
    if (db.find('/') != std::string_view::npos) {
      return bad("expected redis-sentinel://HOST:PORT,.../MASTER[/DB], got more path");
    }
    auto n = parse_db(db);
    if (!n) return n.error();
    t.db = *n;
  }
  return t;
}

}  // namespace

std::string RedisTarget::str() const {
  std::string out(kind == Kind::direct ? kRedisScheme : kSentinelScheme);
  for (size_t i = 0; i < servers.size(); ++i) {
    if (i > 0) out += ',';
    out += servers[i].str();
  }
  if (kind == Kind::sentinel) out += "/" + master_name;
  if (db != 0 || kind == Kind::direct) out += "/" + std::to_string(db);
  return out;
}

Result<std::optional<RedisTarget>> parse_peer_store(std::string_view text) {
  if (text == "memory") return std::optional<RedisTarget>();
  std::string_view rest;
  bool sentinel = false;
  if (text.starts_with(kRedisScheme)) {
    rest = text.substr(kRedisScheme.size());
  } else if (text.starts_with(kSentinelScheme)) {
    rest = text.substr(kSentinelScheme.size());
    sentinel = true;
  } else {
    return bad("expected memory, redis://HOST:PORT/DB or "
               "redis-sentinel://HOST:PORT,HOST:PORT/MASTER");
  }
  if (auto ok = refuse_url_extras(rest); !ok) return ok.error();
  auto target = sentinel ? parse_sentinel(rest) : parse_direct(rest);
  if (!target) return target.error();
  return std::optional<RedisTarget>(std::move(*target));
}

}  // namespace shoal::tracker
