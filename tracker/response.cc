#include "tracker/response.h"

#include "tracker/announce.h"
#include "tracker/bencode.h"

namespace shoal::tracker {
namespace {

void append_port(std::string& out, uint16_t port) {
  out += static_cast<char>(port >> 8);
  out += static_cast<char>(port & 0xff);
}

bencode::Value dict_peer(const PeerEntry& p, const std::string& ip, bool no_peer_id) {
  bencode::Dict d{{"ip", ip_to_string(ip)}, {"port", p.port}};
  if (!no_peer_id) d.emplace("peer id", p.peer_id);
  return d;
}

}  // namespace

std::string encode_announce(const AnnounceReply& reply) {
  bencode::Dict d{{"interval", reply.interval.count()},
                  {"min interval", reply.min_interval.count()},
                  {"complete", reply.complete},
                  {"incomplete", reply.incomplete}};
  if (reply.compact) {
    std::string v4, v6;
    for (const PeerEntry& p : reply.peers) {
      if (p.ipv4.size() == 4) {
        v4 += p.ipv4;
        append_port(v4, p.port);
      }
      if (p.ipv6.size() == 16) {
        v6 += p.ipv6;
        append_port(v6, p.port);
      }
    }
    d.emplace("peers", std::move(v4));
    d.emplace("peers6", std::move(v6));
  } else {
    bencode::List list;
    for (const PeerEntry& p : reply.peers) {
      if (p.ipv4.size() == 4) list.push_back(dict_peer(p, p.ipv4, reply.no_peer_id));
      if (p.ipv6.size() == 16) list.push_back(dict_peer(p, p.ipv6, reply.no_peer_id));
    }
    d.emplace("peers", std::move(list));
  }
  return bencode::encode(d);
}

std::string encode_failure(std::string_view reason) {
  return bencode::encode(bencode::Dict{{"failure reason", reason}});
}

std::string encode_scrape(const std::vector<std::pair<std::string, SwarmCounts>>& files) {
  bencode::Dict out;
  for (const auto& [hash, c] : files) {
    out.insert_or_assign(hash, bencode::Dict{{"complete", c.complete},
                                             {"downloaded", c.downloaded},
                                             {"incomplete", c.incomplete}});
  }
  return bencode::encode(bencode::Dict{{"files", std::move(out)}});
}

}  // namespace shoal::tracker
