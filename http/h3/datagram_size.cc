#include "http/h3/datagram_size.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace shoal::http::h3 {
namespace {

constexpr size_t kIpv6UdpHeaders = 40 + 8;  // the larger of IPv4's 28 and IPv6's 48

bool loopback(const sockaddr* a) {
  if (a->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(a);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (a->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(a);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    // An IPv4 client of a dual-stack socket: ::ffff:127.x.y.z.
    return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

bool same_ip(const sockaddr* a, const sockaddr* b) {
  if (a->sa_family != b->sa_family) return false;
  if (a->sa_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(b)->sin_addr.s_addr;
  }
  if (a->sa_family == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(b)->sin6_addr, sizeof(in6_addr)) == 0;
  }
  return false;
}

}  // namespace

size_t loopback_udp_payload() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  const int rv = ::ioctl(fd, SIOCGIFMTU, &req);
  ::close(fd);
  if (rv != 0 || req.ifr_mtu <= static_cast<int>(kIpv6UdpHeaders)) return 0;
  return std::min(kLoopbackPayloadCap, static_cast<size_t>(req.ifr_mtu) - kIpv6UdpHeaders);
}

bool same_host(const sockaddr* local, const sockaddr* remote) {
  return loopback(remote) || (local != nullptr && same_ip(local, remote));
}

size_t udp_payload_for(const DatagramSizing& sizing, const sockaddr* local,
                       const sockaddr* remote) {
  if (sizing.fixed > 0) return sizing.fixed;
  if (sizing.loopback > 0 && remote != nullptr && same_host(local, remote)) return sizing.loopback;
  return 0;
}

}  // namespace shoal::http::h3
