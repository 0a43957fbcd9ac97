#include "tracker/announce.h"

#include <gtest/gtest.h>

#include <string>

namespace shoal::tracker {
namespace {

const std::string kHash = "%12%34%56%78%9a%bc%de%f1%23%45%67%89%ab%cd%ef%12%34%56%78%9a";
const std::string kPeer = "-SHP0100-abcdefghijk";  // 20 printable bytes

std::string base() { return "info_hash=" + kHash + "&peer_id=" + kPeer + "&port=6881&left=100"; }

std::string error_of(const std::string& query, const AnnounceLimits& limits = {}) {
  auto r = parse_announce(query, limits);
  if (r.ok()) return "ok";
  EXPECT_TRUE(r.error().is(Errc::bad_request));
  return r.error().message;
}

TEST(Announce, ParsesAFullQuery) {
  auto r = parse_announce(base() + "&uploaded=10&downloaded=20&compact=1&numwant=30&event=started"
                                   "&no_peer_id=1&key=abc&ip=10.1.2.3&ipv6=%3A%3A1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->info_hash,
            std::string("\x12\x34\x56\x78\x9a\xbc\xde\xf1\x23\x45\x67\x89\xab\xcd\xef\x12"
                        "\x34\x56\x78\x9a"));
  EXPECT_EQ(r->peer_id, kPeer);
  EXPECT_EQ(r->port, 6881);
  EXPECT_EQ(r->uploaded, 10u);
  EXPECT_EQ(r->downloaded, 20u);
  EXPECT_EQ(r->left, 100u);
  EXPECT_TRUE(r->compact);
  EXPECT_TRUE(r->no_peer_id);
  EXPECT_EQ(r->numwant, 30u);
  EXPECT_EQ(r->event, AnnounceEvent::started);
  EXPECT_EQ(r->ip, std::string("\x0a\x01\x02\x03", 4));
  EXPECT_EQ(r->ipv6, std::string(15, '\0') + "\x01");
}

TEST(Announce, Defaults) {
  auto r = parse_announce(base());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->numwant, 50u);
  EXPECT_EQ(r->event, AnnounceEvent::none);
  EXPECT_FALSE(r->compact);
  EXPECT_TRUE(r->ip.empty());
  EXPECT_TRUE(r->ipv6.empty());
  EXPECT_EQ(parse_announce(base() + "&event=")->event, AnnounceEvent::none);
  EXPECT_EQ(parse_announce(base() + "&event=empty")->event, AnnounceEvent::none);
  EXPECT_EQ(parse_announce(base() + "&event=completed")->event, AnnounceEvent::completed);
  EXPECT_EQ(parse_announce(base() + "&event=stopped")->event, AnnounceEvent::stopped);
}

TEST(Announce, MissingFieldsAreNamed) {
  EXPECT_EQ(error_of("peer_id=" + kPeer + "&port=1&left=0"), "missing info_hash");
  EXPECT_EQ(error_of("info_hash=" + kHash + "&port=1&left=0"), "missing peer_id");
  EXPECT_EQ(error_of("info_hash=" + kHash + "&peer_id=" + kPeer + "&left=0"), "missing port");
  EXPECT_EQ(error_of("info_hash=" + kHash + "&peer_id=" + kPeer + "&port=1"), "missing left");
  EXPECT_EQ(error_of(""), "missing info_hash");
}

TEST(Announce, BadInfoHashOrPeerIdLength) {
  EXPECT_EQ(error_of("info_hash=abc&peer_id=" + kPeer + "&port=1&left=0"),
            "invalid info_hash: must be 20 bytes, got 3");
  EXPECT_EQ(error_of("info_hash=" + kHash + "%00&peer_id=" + kPeer + "&port=1&left=0"),
            "invalid info_hash: must be 20 bytes, got 21");
  EXPECT_EQ(error_of("info_hash=&peer_id=" + kPeer + "&port=1&left=0"),
            "invalid info_hash: must be 20 bytes, got 0");
  EXPECT_EQ(error_of("info_hash=%zz&peer_id=" + kPeer + "&port=1&left=0"),
            "invalid info_hash: bad percent-encoding");
  EXPECT_EQ(error_of("info_hash=" + kHash + "&peer_id=short&port=1&left=0"),
            "invalid peer_id: must be 20 bytes, got 5");
}

TEST(Announce, BadPort) {
  for (const char* port :
       {"0", "65536", "-1", "abc", "", "70000", "1e3", "99999999999999999999999"}) {
    EXPECT_EQ(error_of("info_hash=" + kHash + "&peer_id=" + kPeer + "&left=0&port=" + port),
              "invalid port: expected 1 to 65535")
        << port;
  }
  EXPECT_EQ(parse_announce(base() + "&port=65535")->port, 6881);  // first value wins
}

TEST(Announce, HugeNumwantIsCapped) {
  AnnounceLimits limits;
  limits.max_numwant = 200;
  EXPECT_EQ(parse_announce(base() + "&numwant=1000", limits)->numwant, 200u);
  EXPECT_EQ(parse_announce(base() + "&numwant=99999999999999999999999999", limits)->numwant, 200u);
  EXPECT_EQ(parse_announce(base() + "&numwant=0", limits)->numwant, 0u);
  EXPECT_EQ(error_of(base() + "&numwant=-1"), "invalid numwant: expected an unsigned integer");
  EXPECT_EQ(error_of(base() + "&numwant=ten"), "invalid numwant: expected an unsigned integer");
}

TEST(Announce, BadCountersEventAndAddresses) {
  EXPECT_EQ(error_of(base() + "&event=paused"),
            "invalid event: expected started, completed, stopped or empty");
  EXPECT_EQ(error_of(base() + "&uploaded=-5"), "invalid uploaded: expected an unsigned integer");
  EXPECT_EQ(error_of(base() + "&downloaded=x"), "invalid downloaded: expected an unsigned integer");
  EXPECT_EQ(error_of("info_hash=" + kHash + "&peer_id=" + kPeer + "&port=1&left=-1"),
            "invalid left: expected an unsigned integer");
  EXPECT_EQ(error_of(base() + "&ip=example.com"), "invalid ip: expected an IP address");
  EXPECT_EQ(error_of(base() + "&ipv6=10.0.0.1"), "invalid ipv6: expected an IPv6 address");
  EXPECT_EQ(error_of(base() + "&ip=%00"), "invalid ip: expected an IP address");
}

TEST(Announce, ParsesScrape) {
  auto r = parse_scrape("info_hash=" + kHash + "&info_hash=aaaaaaaaaaaaaaaaaaaa&other=1");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1], std::string(20, 'a'));
  EXPECT_TRUE(parse_scrape("")->empty());
  EXPECT_FALSE(parse_scrape("info_hash=abc").ok());
  std::string many;
  for (int i = 0; i < 3; ++i) many += "info_hash=" + kHash + "&";
  EXPECT_FALSE(parse_scrape(many, 2).ok());
}

TEST(Announce, IpHelpers) {
  EXPECT_EQ(parse_ip("127.0.0.1"), std::string("\x7f\x00\x00\x01", 4));
  EXPECT_EQ(parse_ip("[::1]"), std::string(15, '\0') + "\x01");
  EXPECT_EQ(parse_ip("::ffff:10.0.0.1"), std::string("\x0a\x00\x00\x01", 4));
  EXPECT_FALSE(parse_ip("").has_value());
  EXPECT_FALSE(parse_ip("1.2.3").has_value());
  EXPECT_EQ(ip_of_remote("127.0.0.1:5000"), std::string("\x7f\x00\x00\x01", 4));
  EXPECT_EQ(ip_of_remote("::1:5000"), std::string(15, '\0') + "\x01");
  EXPECT_FALSE(ip_of_remote("unknown").has_value());
  EXPECT_EQ(ip_to_string(std::string("\x7f\x00\x00\x01", 4)), "127.0.0.1");
  EXPECT_EQ(ip_to_string(std::string(15, '\0') + "\x01"), "::1");
  EXPECT_EQ(ip_to_string("abc"), "");
}

}  // namespace
}  // namespace shoal::tracker
