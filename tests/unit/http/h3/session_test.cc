// The sans-I/O HTTP/3 session driven by an in-memory ngtcp2 + nghttp3 client over
// GnuTLS (tests/unit/support/quic_client.h): datagrams move between the two in memory,
// no sockets, no threads, and the time is a steady_clock time point stepped by hand.
#include "http/h3/session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/tls/self_signed.h"
#include "tests/unit/support/quic_client.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::http::h3 {
namespace {

using namespace std::chrono_literals;
using test::quic::Addresses;
using test::quic::Client;
using test::quic::Datagram;
using test::quic::Reply;

constexpr size_t kBurstBytes = 64 * 1024;  // what h3_server hands write() per call
// The longest step the pump takes to the next timer (ACK delay, pacing, loss
// detection); a later one (the idle timeout) means the connection is quiet.
constexpr auto kMaxStep = 1s;

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919 + i / 4096) & 0xff);
  return s;
}

// The connection IDs a session registers, as h3_server's endpoint would route them.
class Cids final : public CidRegistry {
 public:
  void add_cid(const ngtcp2_cid& cid, Session*) override { live.insert(key(cid)); }
  void remove_cid(const ngtcp2_cid& cid) override { live.erase(key(cid)); }
  static std::string key(const ngtcp2_cid& cid) {
    return {reinterpret_cast<const char*>(cid.data), cid.datalen};
  }
  std::set<std::string> live;
};

// One client and the server session it talks to. Members in destruction order: the
// session unregisters its IDs from `cids` as it goes.
struct Conn {
  explicit Conn(uint16_t port) : addr(port) {}
  Addresses addr;
  Cids cids;
  std::unique_ptr<Client> client;
  std::unique_ptr<Session> server;
  std::vector<std::string> server_errors;  // from receive/write/handle_expiry
  size_t bursts = 0;
  size_t gso_bursts = 0;      // bursts of more than one datagram
  size_t misaddressed = 0;    // bursts for an address the client no longer has (dropped)
  uint16_t last_port = 0;     // client port the last burst went to
  std::set<size_t> segments;  // datagram sizes the bursts were cut at
};

class H3Session : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    auto cert = dir_->path() / "cert.pem", key = dir_->path() / "key.pem";
    auto ok = write_self_signed_cert(cert, key, {"localhost"}, {}, std::chrono::hours(24));
    ASSERT_TRUE(ok) << ok.error().message;
    tls_ = new TlsContext(cert.string(), key.string());
  }
  static void TearDownTestSuite() {
    delete tls_;
    tls_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  // A client whose first Initial opens a server session, handshake and HTTP/3
  // set-up done. With `retry`, the first Initial gets a Retry (as h3_server does
  // with h3_retry) and the session opens on the second one, whose token is checked.
  std::unique_ptr<Conn> connect(SessionOptions o = {}, uint16_t port = 40000,
                                Client::Options co = {}, bool retry = false) {
    auto c = std::make_unique<Conn>(port);
    c->client = std::make_unique<Client>(c->addr, now, co);
    std::vector<uint8_t> secret(32, 0x5a);
    auto first = c->client->write(now);
    EXPECT_FALSE(first.empty());
    if (first.empty()) return c;
    ngtcp2_pkt_hd hd;
    EXPECT_EQ(ngtcp2_accept(&hd, first[0].data(), first[0].size()), 0);
    ngtcp2_cid odcid;
    if (retry) {
      ngtcp2_cid scid;
      scid.datalen = kCidLen;
      gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen);
      uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
      auto* remote = reinterpret_cast<ngtcp2_sockaddr*>(&c->addr.client);
      auto tokenlen = ngtcp2_crypto_generate_retry_token(token, secret.data(), secret.size(),
                                                         hd.version, remote, sizeof c->addr.client,
                                                         &scid, &hd.dcid, timestamp(now));
      EXPECT_GT(tokenlen, 0);
      Datagram pkt(NGTCP2_MAX_UDP_PAYLOAD_SIZE);
      auto n = ngtcp2_crypto_write_retry(pkt.data(), pkt.size(), hd.version, &hd.scid, &scid,
                                         &hd.dcid, token, static_cast<size_t>(tokenlen));
      EXPECT_GT(n, 0);
      c->client->read({pkt.data(), static_cast<size_t>(n)}, now);
      first = c->client->write(now);
      EXPECT_FALSE(first.empty());
      if (first.empty()) return c;
      EXPECT_EQ(ngtcp2_accept(&hd, first[0].data(), first[0].size()), 0);
      EXPECT_GT(hd.token.len, 0u);
      EXPECT_EQ(ngtcp2_crypto_verify_retry_token(
                    &odcid, hd.token.base, hd.token.len, secret.data(), secret.size(), hd.version,
                    remote, sizeof c->addr.client, &hd.dcid, 10 * NGTCP2_SECONDS, timestamp(now)),
                0);
    }
    Accepted a{hd, retry ? &odcid : nullptr, c->addr.server_path()};
    auto s = Session::accept(o, *tls_, a, secret, c->cids, now);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    if (!s) return c;
    c->server = std::move(*s);
    for (auto& dg : first) to_server(*c, dg);
    EXPECT_TRUE(pump(*c));
    EXPECT_TRUE(c->client->ready()) << c->client->error;
    EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
    return c;
  }

  void to_server(Conn& c, const Datagram& dg) {
    if (!c.server || c.server->finished()) return;
    ngtcp2_path path = c.addr.server_path();
    if (auto r = c.server->receive(path, dg, now); !r) c.server_errors.push_back(r.error().message);
  }

  // Everything the session wants to send now, delivered to the client. True if any.
  bool from_server(Conn& c) {
    if (!c.server || c.server->finished()) return false;
    std::vector<uint8_t> buf(kBurstBytes);
    size_t max_packets =
        std::max<size_t>(1, kBurstBytes / std::max<size_t>(1, c.server->max_udp_payload()));
    bool any = false;
    for (int i = 0; i < 100000; ++i) {
      auto b = c.server->write(buf.data(), buf.size(), max_packets, now);
      if (!b) {  // the session now writes its CONNECTION_CLOSE
        c.server_errors.push_back(b.error().message);
        continue;
      }
      if (b->size == 0) break;
      any = true;
      ++c.bursts;
      EXPECT_GT(b->segment, 0u);
      if (b->segment == 0) break;
      if (b->size > b->segment) ++c.gso_bursts;
      c.segments.insert(b->segment);
      EXPECT_EQ(b->path.path.remote.addrlen, sizeof(sockaddr_in));
      c.last_port = ntohs(b->path.remote_addrbuf.in.sin_port);
      if (std::memcmp(&b->path.remote_addrbuf, &c.addr.client, sizeof(sockaddr_in)) != 0) {
        ++c.misaddressed;
        continue;
      }
      for (size_t off = 0; off < b->size; off += b->segment) {
        size_t n = std::min(b->segment, b->size - off);
        if (off + n < b->size) {
          EXPECT_EQ(n, b->segment);  // only the last one may be short
        }
        c.client->read({b->data + off, n}, now);
      }
    }
    return any;
  }

  // Moves datagrams both ways until neither side has anything more to send, stepping
  // the clock to the next timer when that is at most kMaxStep away. `each` runs after
  // every round. False if it never went quiet.
  bool pump(Conn& c, const std::function<void()>& each = {}) {
    for (int round = 0; round < 200000; ++round) {
      bool moved = false;
      for (auto& dg : c.client->write(now)) {
        moved = true;
        to_server(c, dg);
      }
      moved |= from_server(c);
      if (each) each();
      if (moved) continue;
      bool server_live = c.server && !c.server->finished();
      auto next = c.client->expiry();
      if (server_live) next = std::min(next, c.server->expiry());
      if (next > now + kMaxStep) return true;
      now = std::max(now, next);
      if (c.client->expiry() <= now) c.client->handle_expiry(now);
      if (server_live && c.server->expiry() <= now) {
        if (auto r = c.server->handle_expiry(now); !r) c.server_errors.push_back(r.error().message);
      }
    }
    return false;
  }

  Stream& ready_one(Conn& c) {
    auto ready = c.server->take_ready();
    EXPECT_EQ(ready.size(), 1u);
    if (ready.empty()) throw std::runtime_error("no stream");
    return *ready.front();
  }

  void respond(Conn& c, Stream& s, unsigned status, const std::string& body) {
    Head head;
    head.result(status);
    ASSERT_TRUE(
        c.server->respond(s, mux::response_fields(head, "shoal", body.size()), body.size()));
    if (!body.empty()) c.server->provide(s, BodySource{body.data(), -1, 0, body.size()}, now);
  }

  static test::TempDir* dir_;
  static TlsContext* tls_;
  Clock::time_point now = Clock::time_point{} + 1h;
};

test::TempDir* H3Session::dir_ = nullptr;
TlsContext* H3Session::tls_ = nullptr;

TEST_F(H3Session, HandshakeAndGet) {
  auto c = connect();
  ASSERT_TRUE(c->server);
  EXPECT_FALSE(c->cids.live.empty());
  int64_t id = c->client->request("GET", "/hello?x=1", {{"x-custom", "a"}});
  ASSERT_GE(id, 0);
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  EXPECT_EQ(s.id, id);
  ASSERT_TRUE(s.head);
  EXPECT_EQ(s.head->head.method(), bhttp::verb::get);
  EXPECT_EQ(s.head->head.target(), "/hello?x=1");
  EXPECT_EQ(s.head->head[bhttp::field::host], "example.com");
  EXPECT_EQ(s.head->head["X-Custom"], "a");
  EXPECT_TRUE(s.bodyless);
  EXPECT_TRUE(s.peer_done);

  const std::string body = pattern(300 * 1024);
  respond(*c, s, 200, body);
  EXPECT_EQ(s.part.remaining, 0u);  // one part, all taken (default send buffer: 4 MiB)
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(s.response_done);
  EXPECT_EQ(s.sent, body.size());
  const Reply& r = c->client->replies[id];
  EXPECT_EQ(r.headers.at(":status"), "200");
  EXPECT_EQ(r.headers.at("content-length"), std::to_string(body.size()));
  EXPECT_EQ(r.headers.at("server"), "shoal");
  EXPECT_EQ(r.body.size(), body.size());
  EXPECT_TRUE(r.body == body);
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, NGHTTP3_H3_NO_ERROR);
  EXPECT_FALSE(r.reset);
  EXPECT_GT(c->gso_bursts, 0u) << "300 KiB never went out as a multi-datagram burst";
  EXPECT_EQ(c->misaddressed, 0u);
  for (size_t seg : c->segments) EXPECT_LE(seg, c->server->max_udp_payload());
  EXPECT_EQ(c->client->unreadable, 0u) << "first: " << c->client->unreadable_lines.front();

  // QUIC closed the stream while the handler still held it: a zombie until released.
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(c->server->zombies(), 1u);
  c->server->release(s);
  EXPECT_EQ(c->server->zombies(), 0u);
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
  EXPECT_TRUE(c->client->error.empty()) << c->client->error;
  EXPECT_FALSE(c->server->finished());
}

TEST_F(H3Session, FileBodyIsTakenInPiecesAsTheClientAcks) {
  SessionOptions o;
  o.send_buffer = 128 * 1024;
  auto c = connect(o);
  ASSERT_TRUE(c->server);
  test::TempDir dir;
  const std::string content = pattern(2 << 20);
  std::string path = (dir.path() / "blob").string();
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));

  int64_t id = c->client->request("GET", "/file");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  Head head;
  head.result(200);
  ASSERT_TRUE(
      c->server->respond(s, mux::response_fields(head, "shoal", content.size()), content.size()));
  c->server->provide(s, BodySource{nullptr, fd, 0, content.size()}, now);
  // Only a send buffer's worth is read from the file up front.
  EXPECT_EQ(s.part.remaining, content.size() - o.send_buffer);
  EXPECT_EQ(s.sent, o.send_buffer);

  const Reply& r = c->client->replies[id];
  std::set<uint64_t> steps;
  uint64_t most_ahead = 0;
  ASSERT_TRUE(pump(*c, [&] {
    steps.insert(s.part.remaining);
    // Taken from the file but not yet at the client: never much over the send buffer.
    uint64_t ahead = s.sent - std::min<uint64_t>(s.sent, r.body.size());
    most_ahead = std::max(most_ahead, ahead);
  }));
  EXPECT_EQ(s.part.remaining, 0u);
  EXPECT_EQ(s.part.offset, content.size());
  EXPECT_GT(steps.size(), 4u) << "the part was not taken in pieces";
  EXPECT_LE(most_ahead, o.send_buffer + 64 * 1024);
  EXPECT_TRUE(s.response_done);
  EXPECT_EQ(r.body.size(), content.size());
  EXPECT_TRUE(r.body == content);
  EXPECT_EQ(c->client->unreadable, 0u);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(r.close_code, NGHTTP3_H3_NO_ERROR);
  c->server->release(s);
  ::close(fd);
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, RequestBodyIsReadAndCreditReturns) {
  SessionOptions o;
  o.stream_window = 256 * 1024;
  auto c = connect(o);
  ASSERT_TRUE(c->server);
  const std::string upload = pattern(1 << 20);
  int64_t id = c->client->request("POST", "/up",
                                  {{"content-length", std::to_string(upload.size())}}, &upload);
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  EXPECT_EQ(s.head->head.method(), bhttp::verb::post);
  EXPECT_EQ(s.head->content_length, upload.size());
  EXPECT_FALSE(s.bodyless);
  // Nothing read yet: the client is held at the stream window.
  EXPECT_GT(s.buffered(), 0u);
  EXPECT_LE(s.buffered(), o.stream_window);
  EXPECT_FALSE(s.peer_done);
  std::string got;
  std::vector<char> buf(100 * 1024);
  for (int i = 0; i < 1000 && !(s.peer_done && s.buffered() == 0); ++i) {
    size_t before = got.size();
    size_t n = s.take_body(buf);
    got.append(buf.data(), n);
    c->server->consume(s, n);
    ASSERT_TRUE(pump(*c));
    EXPECT_LE(s.buffered(), o.stream_window);
    ASSERT_TRUE(n > 0 || s.peer_done || s.buffered() > 0 || got.size() > before)
        << "upload stalled at " << got.size();
  }
  EXPECT_TRUE(s.peer_done);
  EXPECT_EQ(got.size(), upload.size());
  EXPECT_TRUE(got == upload);
  respond(*c, s, 201, "");
  ASSERT_TRUE(pump(*c));
  c->server->release(s);
  ASSERT_TRUE(pump(*c));
  EXPECT_EQ(c->client->replies[id].headers[":status"], "201");
  EXPECT_TRUE(c->client->replies[id].ended);
  EXPECT_EQ(c->server->zombies(), 0u);
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, AbortMidBodyResetsTheStream) {
  auto c = connect();
  ASSERT_TRUE(c->server);
  int64_t id = c->client->request("GET", "/partial");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  const std::string first = pattern(100 * 1024);
  Head head;
  head.result(200);
  ASSERT_TRUE(c->server->respond(s, mux::response_fields(head, "shoal", 1 << 20), 1 << 20));
  c->server->provide(s, BodySource{first.data(), -1, 0, first.size()}, now);
  ASSERT_TRUE(pump(*c));
  const Reply& r = c->client->replies[id];
  EXPECT_EQ(r.headers.at(":status"), "200");
  EXPECT_EQ(r.body.size(), first.size());
  EXPECT_FALSE(r.ended);
  EXPECT_FALSE(r.closed);

  c->server->abort(s);
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(s.aborted);
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.reset_code, NGHTTP3_H3_INTERNAL_ERROR);
  EXPECT_FALSE(r.ended);  // not a clean end
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, NGHTTP3_H3_INTERNAL_ERROR);
  EXPECT_EQ(r.body.size(), first.size());
  c->server->release(s);
  ASSERT_TRUE(pump(*c));
  EXPECT_EQ(c->server->zombies(), 0u);
  EXPECT_FALSE(c->client->dead());  // the connection lives on
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, HeaderListOverTheLimitGets431AndTheConnectionLives) {
  auto c = connect();  // max_header_list: 16 KiB
  ASSERT_TRUE(c->server);
  int64_t id = c->client->request("GET", "/big-cookie", {{"cookie", std::string(20 * 1024, 'c')}});
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(c->server->take_ready().empty());
  const Reply& r = c->client->replies[id];
  EXPECT_EQ(r.headers.count(":status") ? r.headers.at(":status") : "", "431");
  EXPECT_NE(r.body.find("HEADERS_TOO_LARGE"), std::string::npos) << r.body;
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(c->server->zombies(), 0u);

  int64_t next = c->client->request("GET", "/fine");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  respond(*c, s, 204, "");
  ASSERT_TRUE(pump(*c));
  c->server->release(s);
  EXPECT_EQ(c->client->replies[next].headers[":status"], "204");
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

// A frame HTTP/3 forbids on a request stream ends that connection with an H3 error;
// another connection is untouched.
void expect_closed_with_frame_unexpected(Conn& c) {
  EXPECT_FALSE(c.server_errors.empty());
  EXPECT_TRUE(c.server->take_ready().empty());
  EXPECT_TRUE(c.client->draining) << "no CONNECTION_CLOSE reached the client; client error: "
                                  << c.client->error;
  EXPECT_EQ(c.client->peer_close.type, NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION);
  EXPECT_EQ(c.client->peer_close.error_code, NGHTTP3_H3_FRAME_UNEXPECTED);
  EXPECT_TRUE(c.server->finished());  // after its closing period
}

TEST_F(H3Session, ForbiddenFrameClosesOnlyThatConnection) {
  auto bad = connect({}, 40000);
  auto good = connect({}, 40001);
  ASSERT_TRUE(bad->server && good->server);
  int64_t id = bad->client->open_raw();
  ASSERT_GE(id, 0);
  // HTTP/2's PRIORITY frame (type 0x02), reserved and forbidden in HTTP/3.
  const uint8_t priority[] = {0x02, 0x01, 0x00};
  bad->client->send_raw(id, priority, false, now);
  ASSERT_TRUE(bad->client->error.empty()) << bad->client->error;
  ASSERT_TRUE(pump(*bad));
  expect_closed_with_frame_unexpected(*bad);

  int64_t gid = good->client->request("GET", "/still-here");
  ASSERT_TRUE(pump(*good));
  Stream& s = ready_one(*good);
  static const std::string body = "fine";
  respond(*good, s, 200, body);
  ASSERT_TRUE(pump(*good));
  good->server->release(s);
  EXPECT_EQ(good->client->replies[gid].headers[":status"], "200");
  EXPECT_EQ(good->client->replies[gid].body, "fine");
  EXPECT_TRUE(good->server_errors.empty()) << good->server_errors.front();
  EXPECT_FALSE(good->client->dead());
}

TEST_F(H3Session, DataBeforeHeadersClosesTheConnection) {
  auto c = connect();
  ASSERT_TRUE(c->server);
  int64_t id = c->client->open_raw();
  ASSERT_GE(id, 0);
  const uint8_t data[] = {0x00, 0x03, 'a', 'b', 'c'};  // DATA, 3 bytes, no HEADERS first
  c->client->send_raw(id, data, true, now);
  ASSERT_TRUE(pump(*c));
  expect_closed_with_frame_unexpected(*c);
}

TEST_F(H3Session, StreamCreditReturnsOnlyOnRelease) {
  SessionOptions o;
  o.max_streams = 2;
  auto c = connect(o);
  ASSERT_TRUE(c->server);
  EXPECT_EQ(c->client->bidi_left(), 2u);
  int64_t a = c->client->request("GET", "/a");
  int64_t b = c->client->request("GET", "/b");
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ(c->client->request("GET", "/c"), -1);  // no third stream
  ASSERT_TRUE(pump(*c));
  auto ready = c->server->take_ready();
  ASSERT_EQ(ready.size(), 2u);
  for (Stream* s : ready) respond(*c, *s, 200, "ok");
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(c->client->replies[a].ended);
  EXPECT_TRUE(c->client->replies[b].ended);
  // Both are closed in QUIC but their handlers still hold them: no new credit.
  EXPECT_TRUE(ready[0]->closed);
  EXPECT_TRUE(ready[1]->closed);
  EXPECT_EQ(c->server->zombies(), 2u);
  EXPECT_EQ(c->client->bidi_left(), 0u);

  c->server->release(*ready[0]);
  ASSERT_TRUE(pump(*c));
  EXPECT_EQ(c->server->zombies(), 1u);
  EXPECT_EQ(c->client->bidi_left(), 1u);
  int64_t third = c->client->request("GET", "/c");
  ASSERT_GE(third, 0);
  EXPECT_EQ(c->client->bidi_left(), 0u);
  ASSERT_TRUE(pump(*c));
  Stream& s3 = ready_one(*c);
  EXPECT_EQ(s3.head->head.target(), "/c");
  respond(*c, s3, 200, "third");
  ASSERT_TRUE(pump(*c));
  EXPECT_EQ(c->client->replies[third].body, "third");
  EXPECT_EQ(c->client->bidi_left(), 0u);  // s3 and b are still held

  c->server->release(*ready[1]);
  c->server->release(s3);
  ASSERT_TRUE(pump(*c));
  EXPECT_EQ(c->server->zombies(), 0u);
  EXPECT_EQ(c->client->bidi_left(), 2u);  // never more than max_streams at once
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, IdleConnectionFinishes) {
  SessionOptions o;
  o.idle_timeout = 5s;
  auto c = connect(o);
  ASSERT_TRUE(c->server);
  ASSERT_TRUE(pump(*c));  // quiet now: the last packet moved at or before `now`
  const auto quiet_since = now;
  EXPECT_LE(c->server->expiry(), quiet_since + o.idle_timeout);

  // Half way through nothing happens.
  now = quiet_since + o.idle_timeout / 2;
  if (c->server->expiry() <= now) {
    EXPECT_TRUE(c->server->handle_expiry(now));
  }
  EXPECT_FALSE(c->server->finished());

  now = quiet_since + o.idle_timeout;
  auto r = c->server->handle_expiry(now);
  EXPECT_FALSE(r);
  if (!r) {
    EXPECT_TRUE(r.error().is(Errc::timed_out)) << r.error().message;
  }
  EXPECT_TRUE(c->server->finished());
}

TEST_F(H3Session, ResponseFollowsTheClientWindow) {
  SessionOptions o;
  o.send_buffer = 128 * 1024;
  auto c = connect(
      o, 40000,
      Client::Options{
          .stream_window = 64 * 1024, .connection_window = 96 * 1024, .manual_consume = true});
  ASSERT_TRUE(c->server);
  int64_t id = c->client->request("GET", "/big");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  const std::string body = pattern(1 << 20);
  respond(*c, s, 200, body);
  ASSERT_TRUE(pump(*c));
  const Reply& r = c->client->replies[id];
  // The client's 64 KiB stream window is all that went; the rest waits in the part.
  EXPECT_GT(r.body.size(), 0u);
  EXPECT_LE(r.body.size(), 64u * 1024);
  EXPECT_GT(s.part.remaining, 0u);
  size_t consumed = 0;
  for (int i = 0; i < 1000 && !r.ended; ++i) {
    size_t have = r.body.size();
    c->client->consume(id, have - consumed);
    consumed = have;
    ASSERT_TRUE(pump(*c));
    ASSERT_GT(r.body.size(), have) << "no progress after a window update";
  }
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(s.part.remaining, 0u);
  EXPECT_TRUE(r.body == body);
  EXPECT_EQ(r.close_code, NGHTTP3_H3_NO_ERROR);
  c->server->release(s);
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, ClientCancelMakesAZombieUntilReleased) {
  SessionOptions o;
  o.max_streams = 1;
  auto c = connect(o);
  ASSERT_TRUE(c->server);
  int64_t id = c->client->request("GET", "/slow");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  c->client->cancel(id);
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_code, NGHTTP3_H3_REQUEST_CANCELLED);
  EXPECT_EQ(c->server->zombies(), 1u);
  EXPECT_EQ(c->client->bidi_left(), 0u);  // the handler still holds it
  EXPECT_FALSE(c->server->respond(s, {{":status", "200"}}, 0));
  c->server->release(s);
  EXPECT_EQ(c->server->zombies(), 0u);
  ASSERT_TRUE(pump(*c));
  EXPECT_EQ(c->client->bidi_left(), 1u);
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, RefusedStreamIsRejectedAndItsCreditReturns) {
  SessionOptions o;
  o.max_streams = 1;
  auto c = connect(o);
  ASSERT_TRUE(c->server);
  int64_t id = c->client->request("GET", "/refused");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  c->server->refuse(s);  // s is gone once QUIC closes it
  ASSERT_TRUE(pump(*c));
  const Reply& r = c->client->replies[id];
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.reset_code, NGHTTP3_H3_REQUEST_REJECTED);
  EXPECT_FALSE(r.ended);
  EXPECT_EQ(r.headers.count(":status"), 0u);
  EXPECT_EQ(c->server->zombies(), 0u);
  EXPECT_EQ(c->client->bidi_left(), 1u);
  int64_t next = c->client->request("GET", "/next");
  ASSERT_GE(next, 0);
  ASSERT_TRUE(pump(*c));
  Stream& s2 = ready_one(*c);
  respond(*c, s2, 204, "");
  ASSERT_TRUE(pump(*c));
  c->server->release(s2);
  EXPECT_EQ(c->client->replies[next].headers[":status"], "204");
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, DrainSendsGoawayAndOpenStreamsFinish) {
  auto c = connect();
  ASSERT_TRUE(c->server);
  int64_t id = c->client->request("GET", "/last");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  c->server->drain();
  ASSERT_TRUE(pump(*c));
  EXPECT_GE(c->client->goaway_id, 0);
  static const std::string body = "bye";
  respond(*c, s, 200, body);
  ASSERT_TRUE(pump(*c));
  c->server->release(s);
  EXPECT_EQ(c->client->replies[id].body, "bye");
  EXPECT_TRUE(c->client->replies[id].ended);
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, CloseSendsConnectionCloseThenFinishes) {
  auto c = connect();
  ASSERT_TRUE(c->server);
  c->server->close(NGHTTP3_H3_NO_ERROR);
  EXPECT_LE(c->server->expiry(), now);  // the CONNECTION_CLOSE is due now
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(c->client->draining);
  EXPECT_EQ(c->client->peer_close.type, NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION);
  EXPECT_EQ(c->client->peer_close.error_code, NGHTTP3_H3_NO_ERROR);
  EXPECT_TRUE(c->server->finished());  // its closing period (3 PTO) is over
}

TEST_F(H3Session, ClientCloseDrainsThenFinishes) {
  auto c = connect();
  ASSERT_TRUE(c->server);
  c->client->close(NGHTTP3_H3_NO_ERROR, now);
  auto dgs = c->client->write(now);
  ASSERT_EQ(dgs.size(), 1u);
  ngtcp2_path path = c->addr.server_path();
  auto r = c->server->receive(path, dgs[0], now);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::cancelled)) << r.error().message;
  EXPECT_FALSE(c->server->finished());  // draining: quiet for three PTOs
  std::vector<uint8_t> buf(kBurstBytes);
  auto b = c->server->write(buf.data(), buf.size(), 1, now);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->size, 0u);  // nothing may be sent while draining
  auto at = c->server->expiry();
  EXPECT_GT(at, now);
  EXPECT_LE(at, now + 2s);
  now = at;
  EXPECT_TRUE(c->server->handle_expiry(now));
  EXPECT_TRUE(c->server->finished());
}

TEST_F(H3Session, HandshakeAfterRetry) {
  auto c = connect({}, 40000, {}, /*retry=*/true);
  ASSERT_TRUE(c->server);
  int64_t id = c->client->request("GET", "/after-retry");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  static const std::string body = "validated";
  respond(*c, s, 200, body);
  ASSERT_TRUE(pump(*c));
  c->server->release(s);
  EXPECT_EQ(c->client->replies[id].body, "validated");
  EXPECT_TRUE(c->client->error.empty()) << c->client->error;
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, ClientAddressChangeMidConnection) {
  auto c = connect();
  ASSERT_TRUE(c->server);
  int64_t first = c->client->request("GET", "/before");
  ASSERT_TRUE(pump(*c));
  Stream& s1 = ready_one(*c);
  respond(*c, s1, 200, "before");
  ASSERT_TRUE(pump(*c));
  c->server->release(s1);
  EXPECT_EQ(c->client->replies[first].body, "before");

  c->client->rebind(40999);  // NAT rebinding: the old port is gone
  int64_t id = c->client->request("GET", "/after");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  const std::string body = pattern(1 << 20);
  respond(*c, s, 200, body);
  ASSERT_TRUE(pump(*c));
  const Reply& r = c->client->replies[id];
  EXPECT_EQ(r.body.size(), body.size());
  EXPECT_TRUE(r.body == body);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(c->last_port, 40999);
  EXPECT_GT(c->misaddressed, 0u) << "nothing went to the old address: the path never changed?";
  c->server->release(s);
  EXPECT_TRUE(c->client->error.empty()) << c->client->error;
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

// Request bodies nobody reads (the handler answered without them) must not use up
// the connection's flow-control window: release() and the STOP_SENDING it sends
// give the credit back, or the connection stalls after a window's worth.
TEST_F(H3Session, UnreadRequestBodiesDoNotUseUpTheConnectionWindow) {
  SessionOptions o;
  o.stream_window = 256 * 1024;
  o.connection_window = 512 * 1024;
  auto c = connect(o);
  ASSERT_TRUE(c->server);
  const std::string upload = pattern(1 << 20);
  for (int i = 0; i < 4; ++i) {
    int64_t id = c->client->request("PUT", "/ignored-" + std::to_string(i),
                                    {{"content-length", std::to_string(upload.size())}}, &upload);
    ASSERT_GE(id, 0);
    ASSERT_TRUE(pump(*c));
    Stream& s = ready_one(*c);
    EXPECT_GT(s.buffered(), 0u);
    respond(*c, s, 413, "no");
    ASSERT_TRUE(pump(*c));
    c->server->release(s);  // body unread
    ASSERT_TRUE(pump(*c));
    EXPECT_EQ(c->client->replies[id].headers[":status"], "413") << "round " << i;
    EXPECT_TRUE(c->client->replies[id].ended) << "round " << i;
  }
  EXPECT_EQ(c->server->zombies(), 0u);
  // The window is still open: a body that is read arrives whole.
  int64_t id = c->client->request("PUT", "/read",
                                  {{"content-length", std::to_string(upload.size())}}, &upload);
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  std::string got;
  std::vector<char> buf(100 * 1024);
  for (int i = 0; i < 1000 && !(s.peer_done && s.buffered() == 0); ++i) {
    size_t n = s.take_body(buf);
    got.append(buf.data(), n);
    c->server->consume(s, n);
    ASSERT_TRUE(pump(*c));
    ASSERT_TRUE(n > 0 || s.peer_done || s.buffered() > 0) << "upload stalled at " << got.size();
  }
  EXPECT_TRUE(got == upload);
  respond(*c, s, 201, "");
  ASSERT_TRUE(pump(*c));
  c->server->release(s);
  EXPECT_EQ(c->client->replies[id].headers[":status"], "201");
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, ResumedConnectionTakesARequestIn0Rtt) {
  std::optional<Client::Resumption> resume;
  {
    auto first = connect();
    ASSERT_TRUE(first->server);
    resume = first->client->resumption();
    ASSERT_TRUE(resume) << "no session ticket from the server";
  }
  auto c = std::make_unique<Conn>(40002);
  Client::Options co;
  co.resume = &*resume;
  c->client = std::make_unique<Client>(c->addr, now, co);
  int64_t id = c->client->request("GET", "/early");
  ASSERT_GE(id, 0);
  auto flight = c->client->write(now);  // Initial and 0-RTT
  ASSERT_FALSE(flight.empty());
  ngtcp2_pkt_hd hd;
  ASSERT_EQ(ngtcp2_accept(&hd, flight[0].data(), flight[0].size()), 0);
  Accepted a{hd, nullptr, c->addr.server_path()};
  std::vector<uint8_t> secret(32, 0x5a);
  auto s = Session::accept({}, *tls_, a, secret, c->cids, now);
  ASSERT_TRUE(s) << s.error().message;
  c->server = std::move(*s);
  for (auto& dg : flight) to_server(*c, dg);
  // The request is there before the client has heard a word from the server.
  auto ready = c->server->take_ready();
  ASSERT_EQ(ready.size(), 1u) << "the 0-RTT request did not reach a handler";
  ASSERT_TRUE(ready[0]->head);
  EXPECT_EQ(ready[0]->head->head.target(), "/early");
  respond(*c, *ready[0], 200, "early");
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(c->client->handshake_done);
  EXPECT_TRUE(c->client->early_data_accepted());
  EXPECT_EQ(c->client->replies[id].headers[":status"], "200");
  EXPECT_EQ(c->client->replies[id].body, "early");
  EXPECT_TRUE(c->client->replies[id].ended);
  c->server->release(*ready[0]);
  EXPECT_TRUE(c->client->error.empty()) << c->client->error;
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

// How StreamExchange streams a body: the next part once the last one is taken.
TEST_F(H3Session, BodyInSeveralParts) {
  SessionOptions o;
  o.send_buffer = 128 * 1024;
  auto c = connect(o);
  ASSERT_TRUE(c->server);
  int64_t id = c->client->request("GET", "/parts");
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  const std::string body = pattern(1 << 20);
  Head head;
  head.result(200);
  ASSERT_TRUE(c->server->respond(s, mux::response_fields(head, "shoal", body.size()), body.size()));
  ASSERT_TRUE(pump(*c));  // nghttp3 asks for data before there is any: the stream defers
  EXPECT_TRUE(s.deferred);
  const std::vector<size_t> sizes = {1, 100 * 1024 - 1, 300 * 1024, 7, 64 * 1024, 0};
  size_t off = 0;
  for (size_t i = 0; off < body.size(); ++i) {
    size_t n = i < sizes.size() - 1 ? sizes[i] : body.size() - off;
    c->server->provide(s, BodySource{body.data() + off, -1, 0, n}, now);
    off += n;
    for (int round = 0; round < 100 && s.part.remaining > 0; ++round) ASSERT_TRUE(pump(*c));
    ASSERT_EQ(s.part.remaining, 0u) << "part " << i << " was never taken";
    ASSERT_TRUE(pump(*c));
  }
  const Reply& r = c->client->replies[id];
  EXPECT_EQ(r.body.size(), body.size());
  EXPECT_TRUE(r.body == body);
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(s.response_done);
  c->server->release(s);
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, ContinueThenFinalResponse) {
  auto c = connect();
  ASSERT_TRUE(c->server);
  const std::string upload = pattern(1000);
  int64_t id = c->client->request(
      "PUT", "/expect",
      {{"expect", "100-continue"}, {"content-length", std::to_string(upload.size())}}, &upload);
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  c->server->send_continue(s);
  ASSERT_TRUE(pump(*c));
  EXPECT_EQ(c->client->replies[id].headers[":status"], "100");
  std::vector<char> buf(4096);
  std::string got;
  for (int i = 0; i < 10 && got.size() < upload.size(); ++i) {
    size_t n = s.take_body(buf);
    got.append(buf.data(), n);
    c->server->consume(s, n);
    ASSERT_TRUE(pump(*c));
  }
  EXPECT_TRUE(got == upload);
  respond(*c, s, 201, "");
  ASSERT_TRUE(pump(*c));
  c->server->release(s);
  EXPECT_EQ(c->client->replies[id].headers[":status"], "201");
  EXPECT_TRUE(c->client->replies[id].ended);
}

TEST_F(H3Session, MalformedRequestsNeverReachAHandler) {
  auto c = connect();
  ASSERT_TRUE(c->server);
  int64_t no_path =
      c->client->submit({{":method", "GET"}, {":scheme", "https"}, {":authority", "h"}});
  int64_t relative = c->client->request("GET", "relative");
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(c->server->take_ready().empty());
  for (int64_t id : {no_path, relative}) {
    const Reply& r = c->client->replies[id];
    // nghttp3 resets it (H3_MESSAGE_ERROR) or the session answers 400; never a handler.
    bool refused = (r.reset && r.reset_code == NGHTTP3_H3_MESSAGE_ERROR) ||
                   (r.headers.count(":status") && r.headers.at(":status") == "400");
    EXPECT_TRUE(refused) << "stream " << id << " status "
                         << (r.headers.count(":status") ? r.headers.at(":status") : "-")
                         << " reset " << r.reset << " code " << r.reset_code;
  }
  EXPECT_FALSE(c->client->dead());
  EXPECT_EQ(c->server->zombies(), 0u);
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

TEST_F(H3Session, ClientWithoutH3AlpnIsRefused) {
  auto c = std::make_unique<Conn>(40003);
  Client::Options co;
  co.alpn = "h2";
  c->client = std::make_unique<Client>(c->addr, now, co);
  auto flight = c->client->write(now);
  ASSERT_FALSE(flight.empty());
  ngtcp2_pkt_hd hd;
  ASSERT_EQ(ngtcp2_accept(&hd, flight[0].data(), flight[0].size()), 0);
  Accepted a{hd, nullptr, c->addr.server_path()};
  std::vector<uint8_t> secret(32, 0x5a);
  auto s = Session::accept({}, *tls_, a, secret, c->cids, now);
  ASSERT_TRUE(s) << s.error().message;
  c->server = std::move(*s);
  for (auto& dg : flight) to_server(*c, dg);
  ASSERT_TRUE(pump(*c));
  EXPECT_FALSE(c->server_errors.empty());
  EXPECT_FALSE(c->client->handshake_done);
  EXPECT_TRUE(c->client->draining) << c->client->error;
  EXPECT_EQ(c->client->peer_close.type, NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT);
  // A TLS alert: CRYPTO_ERROR (0x100 + alert).
  EXPECT_EQ(c->client->peer_close.error_code & ~uint64_t{0xff}, 0x100u)
      << c->client->peer_close.error_code;
  // Finished after the closing period (3 PTO: seconds, before any RTT sample).
  auto at = c->server->expiry();
  EXPECT_LE(at, now + 5s);
  now = std::max(now, at);
  EXPECT_TRUE(c->server->handle_expiry(now));
  EXPECT_TRUE(c->server->finished());
}

// A HEADERS frame encoded by hand (QPACK, static table and literals only): GET
// https://test/ with one more field, `name: 1`.
std::vector<uint8_t> headers_frame(const std::string& name) {
  std::vector<uint8_t> q = {0x00, 0x00,                       // required insert count 0, base 0
                            0xd1,                             // :method GET (static 17)
                            0xd7,                             // :scheme https (static 23)
                            0xc1,                             // :path / (static 1)
                            0x50, 0x04, 't', 'e', 's', 't'};  // :authority (static 0) = test
  EXPECT_LT(name.size(), 7u + 127u);
  q.push_back(0x27);                                   // literal name, 3-bit length prefix full ...
  q.push_back(static_cast<uint8_t>(name.size() - 7));  // ... and the rest
  q.insert(q.end(), name.begin(), name.end());
  q.push_back(0x01);
  q.push_back('1');
  std::vector<uint8_t> frame = {0x01, static_cast<uint8_t>(q.size())};  // HEADERS, length < 64
  EXPECT_LT(q.size(), 64u);
  frame.insert(frame.end(), q.begin(), q.end());
  return frame;
}

// RFC 9114 §4.2: a field name with uppercase letters makes the request malformed.
// nghttp3 resets the stream with H3_MESSAGE_ERROR and asks for STOP_SENDING, so a
// client still sending learns to stop, resets its side, and the stream's slot
// (and its credit) comes back.
TEST_F(H3Session, MalformedHeadersGetResetAndStopSending) {
  SessionOptions o;
  o.max_streams = 2;
  auto c = connect(o);
  ASSERT_TRUE(c->server);
  // The hand encoding itself is fine: the same request with a lowercase name works.
  int64_t good = c->client->open_raw();
  c->client->send_raw(good, headers_frame("x-lowered"), true, now);
  ASSERT_TRUE(pump(*c));
  Stream& s = ready_one(*c);
  EXPECT_EQ(s.head->head["x-lowered"], "1");
  EXPECT_EQ(s.head->head.target(), "/");
  respond(*c, s, 204, "");
  ASSERT_TRUE(pump(*c));
  c->server->release(s);
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(c->client->replies[good].ended);
  EXPECT_FALSE(c->client->replies[good].body.empty());  // its HEADERS frame
  ASSERT_TRUE(c->client->error.empty()) << c->client->error;
  ASSERT_EQ(c->client->bidi_left(), 2u);

  int64_t bad = c->client->open_raw();
  c->client->send_raw(bad, headers_frame("X-Upper"), false, now);  // a body would follow
  ASSERT_TRUE(pump(*c));
  EXPECT_TRUE(c->server->take_ready().empty());
  const Reply& r = c->client->replies[bad];
  EXPECT_TRUE(r.reset);
  EXPECT_EQ(r.reset_code, NGHTTP3_H3_MESSAGE_ERROR);
  // STOP_SENDING makes the client's ngtcp2 reset its sending side: writing more fails.
  const uint8_t more[] = {0x00, 0x01, 'x'};
  c->client->send_raw(bad, more, false, now);
  EXPECT_NE(c->client->error, "") << "the server never sent STOP_SENDING: the client may send on";
  c->client->error.clear();
  ASSERT_TRUE(pump(*c));
  // Once the client has reset its side too, the stream is gone and its credit back.
  EXPECT_EQ(c->client->bidi_left(), 2u) << "the malformed stream still holds a slot";
  EXPECT_FALSE(c->client->dead());
  EXPECT_TRUE(c->server_errors.empty()) << c->server_errors.front();
}

}  // namespace
}  // namespace shoal::http::h3
