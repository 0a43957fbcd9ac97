#include "http/h3/datagram_size.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace shoal::http::h3 {
namespace {

sockaddr_storage v4(const char* ip) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  inet_pton(AF_INET, ip, &a->sin_addr);
  return ss;
}

sockaddr_storage v6(const char* ip) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  inet_pton(AF_INET6, ip, &a->sin6_addr);
  return ss;
}

const sockaddr* sa(const sockaddr_storage& ss) { return reinterpret_cast<const sockaddr*>(&ss); }

TEST(H3DatagramSize, AClientOnThisHostIsOnAKnownPath) {
  const auto server = v4("10.1.2.3");
  EXPECT_TRUE(same_host(sa(server), sa(v4("127.0.0.1"))));
  EXPECT_TRUE(same_host(sa(server), sa(v4("127.8.9.10"))));
  EXPECT_TRUE(same_host(sa(server), sa(v4("10.1.2.3"))));  // its own address: over lo
  EXPECT_TRUE(same_host(sa(v6("2001:db8::1")), sa(v6("::1"))));
  EXPECT_TRUE(same_host(sa(v6("::")), sa(v6("::ffff:127.0.0.1"))));
  EXPECT_FALSE(same_host(sa(server), sa(v4("10.1.2.4"))));
  EXPECT_FALSE(same_host(sa(v6("2001:db8::1")), sa(v6("2001:db8::2"))));
  EXPECT_FALSE(same_host(sa(v6("::")), sa(v6("::ffff:10.0.0.1"))));
}

TEST(H3DatagramSize, KnownPathsSkipDiscoveryOthersDiscover) {
  const auto server = v4("10.1.2.3"), local = v4("127.0.0.1"), far = v4("192.0.2.7");
  const DatagramSizing automatic{0, 16384};
  EXPECT_EQ(udp_payload_for(automatic, sa(server), sa(local)), 16384u);
  EXPECT_EQ(udp_payload_for(automatic, sa(server), sa(far)), 0u);
  const DatagramSizing jumbo{8952, 16384};  // the operator's size wins everywhere
  EXPECT_EQ(udp_payload_for(jumbo, sa(server), sa(far)), 8952u);
  EXPECT_EQ(udp_payload_for(jumbo, sa(server), sa(local)), 8952u);
  const DatagramSizing unknown_lo{0, 0};  // lo's MTU could not be read
  EXPECT_EQ(udp_payload_for(unknown_lo, sa(server), sa(local)), 0u);
}

TEST(H3DatagramSize, TheLoopbackSizeComesFromItsMtu) {
  // Linux's lo has a 64 KiB MTU unless someone lowered it; either way the size is a
  // valid QUIC datagram that still fits four to a GSO send.
  const size_t n = loopback_udp_payload();
  ASSERT_GT(n, 0u);
  EXPECT_GE(n, 1200u);
  EXPECT_LE(n, kLoopbackPayloadCap);
}

}  // namespace
}  // namespace shoal::http::h3
