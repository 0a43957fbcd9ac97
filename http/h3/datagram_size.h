// How large the QUIC datagrams an HTTP/3 server sends on a path may be.
//
// ngtcp2 0.12 starts at 1200 bytes and its path MTU discovery probes no higher than
// 1444, a fit for the Internet. Per byte, the cost at both ends is per datagram (a
// syscall share, an AEAD call, a header, an ACK range), and a client on loopback
// reading 1452-byte datagrams is CPU-bound at a fifth of what it reaches with 16 KiB
// ones (docs/BENCHMARKS.md). Two paths have a known MTU and need no discovery: the
// loopback interface, to a client on this host; and a network an operator declares
// (h3_max_udp_payload, e.g. 8952 for jumbo frames). The client's max_udp_payload_size
// transport parameter still caps what is sent.
#pragma once

#include <sys/socket.h>

#include <cstddef>

namespace shoal::http::h3 {

// The most UDP payload one IPv4 datagram carries (20-byte IP and 8-byte UDP headers).
// One GSO send is such a datagram to the kernel before it splits it: more is EMSGSIZE,
// and every packet of the burst is lost.
inline constexpr size_t kMaxGsoBytes = 65535 - 20 - 8;
// Loopback datagrams stop just under 16 KiB although lo's MTU is 64 KiB: four still fit
// in one GSO send, and a datagram lost to a full receive buffer costs less to resend.
inline constexpr size_t kLoopbackPayloadCap = kMaxGsoBytes / 4;

struct DatagramSizing {
  size_t fixed = 0;     // > 0: this size to every client, without discovery
  size_t loopback = 0;  // > 0: this size to clients on this host
};

// The loopback interface's MTU less IPv6 and UDP headers, at most kLoopbackPayloadCap;
// 0 when it cannot be read.
size_t loopback_udp_payload();

// Whether a datagram between these addresses never leaves this host: the client is on
// a loopback address, or on the very address it reached.
bool same_host(const sockaddr* local, const sockaddr* remote);

// The size to send on this path without discovery, or 0: start small and discover.
size_t udp_payload_for(const DatagramSizing& sizing, const sockaddr* local, const sockaddr* remote);

}  // namespace shoal::http::h3
