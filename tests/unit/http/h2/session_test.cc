// The sans-I/O HTTP/2 session driven by an in-memory nghttp2 client: no sockets, no
// threads, time stepped by hand.
#include "http/h2/session.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/support/temp_dir.h"

namespace shoal::http::h2 {
namespace {

using namespace std::chrono_literals;

constexpr size_t kBatch = 64 * 1024;

struct Reply {
  std::map<std::string, std::string> headers;
  std::string body;
  bool closed = false;
  uint32_t error = 0;
};

nghttp2_nv nv(const std::string& name, const std::string& value) {
  return {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
          const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

// An nghttp2 client session whose bytes go to a Session and back.
class Client {
 public:
  struct Options {
    int32_t window = 1 << 30;
    bool manual_window = false;  // consume received DATA only through consume()
  };

  Client() : Client(Options{}) {}
  explicit Client(Options o) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, o.manual_window ? 1 : 0);
    nghttp2_option_set_max_send_header_block_length(opt, 1 << 20);
    nghttp2_session_client_new2(&ng, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(o.window)}};
    nghttp2_submit_settings(ng, NGHTTP2_FLAG_NONE, iv, 1);
    if (!o.manual_window) nghttp2_session_set_local_window_size(ng, NGHTTP2_FLAG_NONE, 0, 1 << 30);
  }
  ~Client() { nghttp2_session_del(ng); }

  int32_t request(const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> extra = {},
                  const std::string* body = nullptr) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", method}, {":scheme", "https"}, {":authority", "example.com"}, {":path", path}};
    fields.insert(fields.end(), extra.begin(), extra.end());
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : fields) nva.push_back(nv(n, v));
    nghttp2_data_provider prd{};
    upload_ = body;
    upload_pos_ = 0;
    prd.read_callback = read_upload;
    return nghttp2_submit_request(ng, nullptr, nva.data(), nva.size(), body ? &prd : nullptr,
                                  nullptr);
  }

  // Everything the client has queued, as bytes for the server.
  std::vector<uint8_t> drain() {
    std::vector<uint8_t> out;
    for (;;) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(ng, &data);
      if (n <= 0) break;
      out.insert(out.end(), data, data + n);
    }
    return out;
  }

  nghttp2_session* ng = nullptr;
  std::map<int32_t, Reply> replies;
  uint32_t goaway_error = UINT32_MAX;
  size_t rst_received = 0;

 private:
  static Client& self(void* u) { return *static_cast<Client*>(u); }
  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
                       const uint8_t* v, size_t vl, uint8_t, void* u) {
    self(u).replies[f->hd.stream_id].headers[std::string(reinterpret_cast<const char*>(n), nl)] =
        std::string(reinterpret_cast<const char*>(v), vl);
    return 0;
  }
  static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t len, void* u) {
    self(u).replies[id].body.append(reinterpret_cast<const char*>(d), len);
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t id, uint32_t error, void* u) {
    auto& r = self(u).replies[id];
    r.closed = true;
    r.error = error;
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* u) {
    if (f->hd.type == NGHTTP2_GOAWAY) self(u).goaway_error = f->goaway.error_code;
    if (f->hd.type == NGHTTP2_RST_STREAM) ++self(u).rst_received;
    return 0;
  }
  static ssize_t read_upload(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                             nghttp2_data_source*, void* u) {
    Client& c = self(u);
    size_t n = std::min(len, c.upload_->size() - c.upload_pos_);
    std::memcpy(buf, c.upload_->data() + c.upload_pos_, n);
    c.upload_pos_ += n;
    if (c.upload_pos_ == c.upload_->size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
  const std::string* upload_ = nullptr;
  size_t upload_pos_ = 0;
};

class H2Session : public ::testing::Test {
 protected:
  void start(SessionOptions o = {}) {
    auto s = Session::create(std::move(o));
    ASSERT_TRUE(s) << s.error().message;
    server = std::move(*s);
  }

  // Moves bytes both ways until neither side has anything more to say. Returns the
  // largest single batch the server produced.
  size_t pump(Client& c) {
    size_t largest = 0;
    for (int round = 0; round < 100000; ++round) {
      auto in = c.drain();
      if (!in.empty()) {
        auto r = server->receive(in, now);
        if (!r) receive_error = r.error().message;
      }
      WriteBuffer out(kBatch + Session::kFrameRoom);
      auto sent = server->send(out, kBatch, now);
      EXPECT_TRUE(sent) << (sent ? "" : sent.error().message);
      largest = std::max(largest, out.size());
      if (!out.empty()) nghttp2_session_mem_recv(c.ng, out.data(), out.size());
      if (in.empty() && out.empty()) break;
    }
    return largest;
  }

  Stream& ready_one() {
    auto ready = server->take_ready();
    EXPECT_EQ(ready.size(), 1u);
    if (ready.empty()) throw std::runtime_error("no stream");
    return *ready.front();
  }

  void respond(Stream& s, unsigned status, const std::string& body) {
    Head head;
    head.result(status);
    ASSERT_TRUE(server->respond(s, mux::response_fields(head, "shoal", body.size()), body.size()));
    if (!body.empty()) server->provide(s, BodySource{body.data(), -1, 0, body.size()}, now);
  }

  std::unique_ptr<Session> server;
  Clock::time_point now = Clock::time_point{} + 1h;
  std::string receive_error;
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919 + i / 4096) & 0xff);
  return s;
}

TEST_F(H2Session, RequestAndResponseRoundTrip) {
  start();
  Client c;
  int32_t id =
      c.request("GET", "/hello?x=1", {{"x-custom", "a"}, {"cookie", "k=1"}, {"cookie", "j=2"}});
  pump(c);
  Stream& s = ready_one();
  ASSERT_TRUE(s.head);
  EXPECT_EQ(s.head->head.method(), bhttp::verb::get);
  EXPECT_EQ(s.head->head.target(), "/hello?x=1");
  EXPECT_EQ(s.head->head[bhttp::field::host], "example.com");
  EXPECT_EQ(s.head->head["X-Custom"], "a");
  EXPECT_EQ(s.head->head[bhttp::field::cookie], "k=1; j=2");
  EXPECT_TRUE(s.bodyless);
  EXPECT_TRUE(s.peer_done);

  static const std::string body = "hello";
  respond(s, 200, body);
  pump(c);
  EXPECT_EQ(s.part.remaining, 0u);
  EXPECT_TRUE(s.response_done);
  server->release(s);
  const Reply& r = c.replies[id];
  EXPECT_EQ(r.headers.at(":status"), "200");
  EXPECT_EQ(r.headers.at("content-length"), "5");
  EXPECT_EQ(r.headers.at("server"), "shoal");
  EXPECT_EQ(r.body, "hello");
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.error, NGHTTP2_NO_ERROR);
  EXPECT_FALSE(server->open_streams());
  EXPECT_TRUE(receive_error.empty()) << receive_error;
}

TEST_F(H2Session, RequestBodyWaitsForTheHandler) {
  SessionOptions o;
  o.stream_window = 256 * 1024;
  start(o);
  Client c;
  const std::string upload = pattern(3 << 20);
  int32_t id =
      c.request("PUT", "/up", {{"content-length", std::to_string(upload.size())}}, &upload);
  pump(c);
  Stream& s = ready_one();
  EXPECT_EQ(s.head->content_length, upload.size());
  // Nothing read: the client is held at the stream window.
  EXPECT_GT(s.buffered(), 0u);
  EXPECT_LE(s.buffered(), o.stream_window);
  EXPECT_FALSE(s.peer_done);
  std::string got;
  std::vector<char> buf(100 * 1024);
  while (!(s.peer_done && s.buffered() == 0)) {
    size_t before = got.size();
    size_t n = s.take_body(buf);
    got.append(buf.data(), n);
    server->consume(s, n);
    pump(c);
    EXPECT_LE(s.buffered(), o.stream_window);
    ASSERT_TRUE(n > 0 || s.peer_done || got.size() > before) << "upload stalled at " << got.size();
  }
  EXPECT_EQ(got.size(), upload.size());
  EXPECT_TRUE(got == upload);
  respond(s, 201, "");
  pump(c);
  server->release(s);
  EXPECT_EQ(c.replies[id].headers.at(":status"), "201");
}

TEST_F(H2Session, ResponseFollowsTheClientWindow) {
  start();
  Client c(Client::Options{.window = 64 * 1024, .manual_window = true});
  int32_t id = c.request("GET", "/big");
  pump(c);
  Stream& s = ready_one();
  static const std::string body = pattern(1 << 20);
  respond(s, 200, body);
  size_t largest = pump(c);
  EXPECT_LE(largest, kBatch + Session::kFrameRoom);
  // The client's 64 KiB stream window (65535 for the connection) is all that went.
  EXPECT_LE(c.replies[id].body.size(), 64u * 1024);
  EXPECT_GT(c.replies[id].body.size(), 0u);
  EXPECT_GT(s.part.remaining, 0u);  // a handler would still be waiting
  size_t consumed = 0;
  while (!c.replies[id].closed) {
    size_t have = c.replies[id].body.size();
    nghttp2_session_consume(c.ng, id, have - consumed);
    consumed = have;
    pump(c);
    ASSERT_GT(c.replies[id].body.size(), have) << "no progress after a window update";
  }
  EXPECT_EQ(s.part.remaining, 0u);
  EXPECT_TRUE(c.replies[id].body == body);
  EXPECT_EQ(c.replies[id].error, NGHTTP2_NO_ERROR);
  server->release(s);
}

TEST_F(H2Session, FileBodyIsReadIntoFramesAndAShortFileResets) {
  start();
  test::TempDir dir;
  const std::string content = pattern(300 * 1024);
  std::string path = (dir.path() / "blob").string();
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));

  Client c;
  int32_t whole = c.request("GET", "/whole");
  int32_t short_one = c.request("GET", "/short");
  pump(c);
  auto ready = server->take_ready();
  ASSERT_EQ(ready.size(), 2u);
  Head head;
  head.result(200);
  // Bytes 1000.. of the file, then a body that claims more than the file holds.
  uint64_t len = content.size() - 1000;
  ASSERT_TRUE(server->respond(*ready[0], mux::response_fields(head, "shoal", len), len));
  server->provide(*ready[0], BodySource{nullptr, fd, 1000, len}, now);
  ASSERT_TRUE(server->respond(*ready[1], mux::response_fields(head, "shoal", content.size() + 10),
                              content.size() + 10));
  server->provide(*ready[1], BodySource{nullptr, fd, 0, content.size() + 10}, now);
  pump(c);
  EXPECT_TRUE(c.replies[whole].body == content.substr(1000));
  EXPECT_EQ(c.replies[whole].error, NGHTTP2_NO_ERROR);
  EXPECT_TRUE(c.replies[short_one].closed);
  EXPECT_EQ(c.replies[short_one].error, NGHTTP2_INTERNAL_ERROR);
  EXPECT_TRUE(ready[1]->aborted);
  for (auto* s : ready) server->release(*s);
  ::close(fd);
}

TEST_F(H2Session, ShortStreamedBodyIsResetWhenReleased) {
  start();
  Client c;
  int32_t id = c.request("GET", "/stream");
  pump(c);
  Stream& s = ready_one();
  static const std::string first = pattern(1000);
  Head head;
  head.result(200);
  ASSERT_TRUE(server->respond(s, mux::response_fields(head, "shoal", 5000), 5000));
  server->provide(s, BodySource{first.data(), -1, 0, first.size()}, now);
  pump(c);
  EXPECT_EQ(c.replies[id].body.size(), 1000u);
  EXPECT_FALSE(c.replies[id].closed);
  server->release(s);  // the handler gave up after 1000 of 5000 bytes
  pump(c);
  EXPECT_TRUE(c.replies[id].closed);
  EXPECT_EQ(c.replies[id].error, NGHTTP2_INTERNAL_ERROR);
}

TEST_F(H2Session, ClientResetMakesAZombieUntilReleased) {
  start();
  Client c;
  int32_t id = c.request("GET", "/slow");
  pump(c);
  Stream& s = ready_one();
  nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  pump(c);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(server->zombies(), 1u);
  server->release(s);
  EXPECT_EQ(server->zombies(), 0u);
  EXPECT_FALSE(server->open_streams());
}

TEST_F(H2Session, RapidResetEndsTheConnection) {
  start();
  Client c;
  pump(c);
  // HEADERS then RST_STREAM, a thousand times, arriving together.
  std::vector<uint8_t> attack;
  for (int i = 0; i < 1000; ++i) {
    int32_t id = c.request("GET", "/blobs/x");
    auto b = c.drain();
    attack.insert(attack.end(), b.begin(), b.end());
    nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    b = c.drain();
    attack.insert(attack.end(), b.begin(), b.end());
  }
  auto r = server->receive(attack, now);
  EXPECT_FALSE(r);
  EXPECT_TRUE(server->take_ready().empty());  // every stream died before a handler
  EXPECT_FALSE(server->open_streams());
  pump(c);
  EXPECT_EQ(c.goaway_error, NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_FALSE(server->want_read());
  EXPECT_FALSE(server->want_write());
}

TEST_F(H2Session, ResetsAtAModestRateAreFine) {
  start();
  Client c;
  for (int i = 0; i < 300; ++i) {
    int32_t id = c.request("GET", "/blobs/x");
    pump(c);
    nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    pump(c);
    for (Stream* s : server->take_ready()) server->release(*s);
    now += 50ms;  // 20 a second, under the default 100
  }
  EXPECT_TRUE(receive_error.empty()) << receive_error;
  EXPECT_EQ(c.goaway_error, UINT32_MAX);
  EXPECT_TRUE(server->want_read());
}

TEST_F(H2Session, HeaderListOverTheLimitGets431AndTheConnectionLives) {
  start();
  Client c;
  int32_t id = c.request("GET", "/big-cookie", {{"cookie", std::string(20 * 1024, 'c')}});
  pump(c);
  EXPECT_TRUE(server->take_ready().empty());
  EXPECT_EQ(c.replies[id].headers[":status"], "431");
  EXPECT_NE(c.replies[id].body.find("HEADERS_TOO_LARGE"), std::string::npos);
  int32_t next = c.request("GET", "/fine");
  pump(c);
  Stream& s = ready_one();
  respond(s, 204, "");
  pump(c);
  server->release(s);
  EXPECT_EQ(c.replies[next].headers[":status"], "204");
  EXPECT_TRUE(receive_error.empty()) << receive_error;
}

TEST_F(H2Session, HeaderBombIsResetWithoutStoringIt) {
  start();
  Client c;
  // The client's encoder indexes the field once and then repeats it in two bytes:
  // 200 repeats decode to 400 KiB against a 16 KiB limit.
  std::vector<std::pair<std::string, std::string>> bomb;
  for (int i = 0; i < 200; ++i) bomb.emplace_back("x-bomb", std::string(2000, 'b'));
  int32_t id = c.request("GET", "/bomb", bomb);
  auto bytes = c.drain();
  EXPECT_LT(bytes.size(), 8u * 1024) << "the header list did not compress";
  auto r = server->receive(bytes, now);
  EXPECT_TRUE(r);
  EXPECT_TRUE(server->take_ready().empty());
  pump(c);
  EXPECT_TRUE(c.replies[id].closed);
  EXPECT_NE(c.replies[id].error, NGHTTP2_NO_ERROR);
  EXPECT_EQ(c.replies[id].headers.count(":status"), 0u);
}

TEST_F(H2Session, MalformedRequestsAreRefused) {
  start();
  Client c;
  static const std::string m = ":method", mv = "GET", sc = ":scheme", scv = "https",
                           au = ":authority", av = "h";
  std::vector<nghttp2_nv> no_path = {nv(m, mv), nv(sc, scv), nv(au, av)};
  int32_t a =
      nghttp2_submit_request(c.ng, nullptr, no_path.data(), no_path.size(), nullptr, nullptr);
  int32_t b = c.request("GET", "relative");
  pump(c);
  EXPECT_TRUE(server->take_ready().empty());
  EXPECT_TRUE(c.replies[a].closed);
  EXPECT_EQ(c.replies[a].error, NGHTTP2_PROTOCOL_ERROR);
  // Either nghttp2 or our own check refuses it; never a handler.
  bool refused =
      c.replies[b].error == NGHTTP2_PROTOCOL_ERROR || c.replies[b].headers[":status"] == "400";
  EXPECT_TRUE(refused);
}

TEST_F(H2Session, PingFloodEndsTheConnection) {
  start();
  Client c;
  for (int i = 0; i < 500; ++i) nghttp2_submit_ping(c.ng, NGHTTP2_FLAG_NONE, nullptr);
  pump(c);
  EXPECT_FALSE(receive_error.empty());
  EXPECT_EQ(c.goaway_error, NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST_F(H2Session, SettingsFloodEndsTheConnection) {
  start();
  Client c;
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
  for (int i = 0; i < 500; ++i) nghttp2_submit_settings(c.ng, NGHTTP2_FLAG_NONE, iv, 1);
  pump(c);
  EXPECT_FALSE(receive_error.empty());
  EXPECT_EQ(c.goaway_error, NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST_F(H2Session, SettingsWithTooManyEntriesEndTheConnection) {
  start();
  Client c;
  std::vector<nghttp2_settings_entry> iv(40, {NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  nghttp2_submit_settings(c.ng, NGHTTP2_FLAG_NONE, iv.data(), iv.size());
  pump(c);
  EXPECT_NE(c.goaway_error, UINT32_MAX);
  EXPECT_FALSE(server->want_read());
}

TEST_F(H2Session, DrainLetsOpenStreamsFinish) {
  start();
  Client c;
  int32_t id = c.request("GET", "/last");
  pump(c);
  Stream& s = ready_one();
  server->drain();
  pump(c);
  EXPECT_EQ(c.goaway_error, NGHTTP2_NO_ERROR);
  EXPECT_TRUE(server->want_read());  // the open stream still gets its answer
  static const std::string body = "bye";
  respond(s, 200, body);
  pump(c);
  server->release(s);
  EXPECT_EQ(c.replies[id].body, "bye");
  EXPECT_FALSE(server->want_read());
  EXPECT_FALSE(server->want_write());
}

// -- RFC 9113 §5.1 and §5.1.1: frames a well-behaved client never sends, by hand ------

std::string be(uint32_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

std::string raw_frame(uint8_t type, uint8_t flags, int32_t id, const std::string& payload = "") {
  return be(static_cast<uint32_t>(payload.size()), 3) + static_cast<char>(type) +
         static_cast<char>(flags) + be(static_cast<uint32_t>(id), 4) + payload;
}

// HPACK literal fields without indexing (RFC 7541 §6.2.2); names and values under 127.
std::string request_block(const std::string& path) {
  std::string block;
  for (auto [n, v] : {std::pair<std::string, std::string>{":method", "GET"}, {":scheme", "https"},
                      {":authority", "example.com"}, {":path", path}}) {
    block += '\0';
    block += static_cast<char>(n.size()) + n + static_cast<char>(v.size()) + v;
  }
  return block;
}

constexpr uint8_t kEndStream = NGHTTP2_FLAG_END_STREAM, kEndHeaders = NGHTTP2_FLAG_END_HEADERS;

std::string get(int32_t id, uint8_t flags = kEndStream | kEndHeaders) {
  return raw_frame(NGHTTP2_HEADERS, flags, id, request_block("/s" + std::to_string(id)));
}
std::string data(int32_t id, uint8_t flags = kEndStream) {
  return raw_frame(NGHTTP2_DATA, flags, id, "test");
}
std::string rst(int32_t id) { return raw_frame(NGHTTP2_RST_STREAM, 0, id, be(NGHTTP2_CANCEL, 4)); }

// What the server's frames said, by kind.
struct Answer {
  uint32_t goaway = UINT32_MAX;
  std::map<int32_t, uint32_t> resets;  // stream -> RST_STREAM error code
  std::vector<int32_t> heads;          // streams that got response HEADERS
};

class H2StreamStates : public H2Session {
 protected:
  void SetUp() override {
    start();
    say(std::string(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN) +
        raw_frame(NGHTTP2_SETTINGS, 0, 0));
    say(raw_frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0));
    EXPECT_TRUE(receive_error.empty()) << receive_error;
  }

  // Sends raw bytes, answers every ready stream 200 (empty body), and collects the frames
  // the server sends back.
  Answer say(const std::string& bytes) {
    hear(bytes);
    Answer a;
    for (int round = 0; round < 100; ++round) {
      for (Stream* st : server->take_ready()) {
        respond(*st, 200, "");
        server->release(*st);
      }
      WriteBuffer out(kBatch + Session::kFrameRoom);
      EXPECT_TRUE(server->send(out, kBatch, now));
      if (out.empty()) break;
      parse({out.data(), out.size()}, a);
    }
    return a;
  }

  // The server reads `bytes` and nothing more happens.
  bool hear(const std::string& bytes) {
    auto r = server->receive(
        std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), now);
    if (!r) receive_error = r.error().message;
    return static_cast<bool>(r);
  }

  static void parse(std::span<const uint8_t> b, Answer& a) {
    while (b.size() >= 9) {
      size_t len = (size_t{b[0]} << 16) | (size_t{b[1]} << 8) | b[2];
      auto payload = b.subspan(9, len);
      int32_t id = static_cast<int32_t>(
          (uint32_t{b[5]} << 24 | uint32_t{b[6]} << 16 | uint32_t{b[7]} << 8 | b[8]) & 0x7fffffff);
      auto u32 = [&](size_t at) {
        return uint32_t{payload[at]} << 24 | uint32_t{payload[at + 1]} << 16 |
               uint32_t{payload[at + 2]} << 8 | payload[at + 3];
      };
      if (b[3] == NGHTTP2_GOAWAY) a.goaway = u32(4);
      if (b[3] == NGHTTP2_RST_STREAM) a.resets[id] = u32(0);
      if (b[3] == NGHTTP2_HEADERS) a.heads.push_back(id);
      b = b.subspan(9 + len);
    }
  }

  // The connection still serves a request on stream `id`.
  void expect_alive(int32_t id) {
    Answer a = say(get(id));
    EXPECT_EQ(a.goaway, UINT32_MAX);
    EXPECT_EQ(a.heads, std::vector<int32_t>{id});
  }
};

TEST_F(H2StreamStates, ALowerStreamIdThanOneOpenedEndsTheConnection) {
  Answer a = say(get(5));
  EXPECT_EQ(a.heads, std::vector<int32_t>{5});
  a = say(get(3));
  EXPECT_EQ(a.goaway, NGHTTP2_PROTOCOL_ERROR);
  EXPECT_TRUE(a.heads.empty());
  EXPECT_NE(receive_error.find("5.1.1"), std::string::npos) << receive_error;
  EXPECT_FALSE(server->want_read());
}

TEST_F(H2StreamStates, ALowerStreamIdArrivingWithTheHigherOneEndsTheConnectionToo) {
  // Stream 5 still open (no END_STREAM) when 3 arrives in the same read.
  Answer a = say(get(5, kEndHeaders) + get(3));
  EXPECT_EQ(a.goaway, NGHTTP2_PROTOCOL_ERROR);
}

TEST_F(H2StreamStates, DataOrHeadersAfterTheClientsResetGetStreamClosed) {
  Answer a = say(get(1, kEndHeaders) + rst(1) + data(1));
  EXPECT_EQ(a.resets[1], NGHTTP2_STREAM_CLOSED);
  EXPECT_EQ(a.goaway, UINT32_MAX);
  a = say(get(3, kEndHeaders) + rst(3) + get(3));
  EXPECT_EQ(a.resets[3], NGHTTP2_STREAM_CLOSED);
  EXPECT_EQ(a.goaway, UINT32_MAX);
  expect_alive(5);
  EXPECT_TRUE(receive_error.empty()) << receive_error;
}

TEST_F(H2StreamStates, DataAfterBothSidesEndedEndsTheConnectionWithStreamClosed) {
  Answer a = say(get(1));
  EXPECT_EQ(a.heads, std::vector<int32_t>{1});
  EXPECT_FALSE(server->open_streams());
  a = say(data(1));
  EXPECT_EQ(a.goaway, NGHTTP2_STREAM_CLOSED);
  EXPECT_NE(receive_error.find("5.1"), std::string::npos) << receive_error;
}

TEST_F(H2StreamStates, HeadersAfterBothSidesEndedEndsTheConnectionWithStreamClosed) {
  say(get(1));
  Answer a = say(get(1));
  EXPECT_EQ(a.goaway, NGHTTP2_STREAM_CLOSED);
}

TEST_F(H2StreamStates, DataOnAHalfClosedRemoteStreamGetsStreamClosed) {
  // The handler has not answered yet: the stream is half-closed (remote).
  ASSERT_TRUE(hear(get(1)));
  Stream& s = ready_one();
  hear(data(1));
  WriteBuffer out(kBatch + Session::kFrameRoom);
  ASSERT_TRUE(server->send(out, kBatch, now));
  Answer a;
  parse({out.data(), out.size()}, a);
  // nghttp2 makes it a connection error, which RFC 9113 §5.4.1 allows for any stream error.
  EXPECT_TRUE(a.goaway == NGHTTP2_STREAM_CLOSED || a.resets[1] == NGHTTP2_STREAM_CLOSED);
  server->release(s);
}

TEST_F(H2StreamStates, FramesInFlightAfterOurResetAreIgnored) {
  ASSERT_TRUE(hear(get(1, kEndHeaders)));  // a request body is to follow
  server->refuse(ready_one());
  Answer a = say("");
  EXPECT_EQ(a.resets[1], NGHTTP2_REFUSED_STREAM);
  // What the client sent before our RST_STREAM reached it: body, then trailers.
  std::string trailers =
      raw_frame(NGHTTP2_HEADERS, kEndStream | kEndHeaders, 1, std::string("\0\x01x\x01y", 5));
  a = say(data(1, 0) + data(1, 0) + trailers + raw_frame(NGHTTP2_WINDOW_UPDATE, 0, 1, be(100, 4)));
  EXPECT_EQ(a.goaway, UINT32_MAX);
  EXPECT_TRUE(a.resets.empty());
  expect_alive(3);
  EXPECT_TRUE(receive_error.empty()) << receive_error;
}

TEST_F(H2StreamStates, WindowUpdateAfterTheEndIsIgnored) {
  say(get(1));
  Answer a = say(raw_frame(NGHTTP2_WINDOW_UPDATE, 0, 1, be(100, 4)) + rst(1) +
                 raw_frame(NGHTTP2_PRIORITY, 0, 1, be(0, 4) + '\x0f'));
  EXPECT_EQ(a.goaway, UINT32_MAX);
  EXPECT_TRUE(a.resets.empty());
  expect_alive(3);
}

TEST_F(H2StreamStates, FramesSplitAcrossReadsAreJudgedTheSame) {
  std::string bytes = get(5) + get(3);
  for (char c : bytes) hear(std::string(1, c));
  Answer a = say("");
  EXPECT_EQ(a.goaway, NGHTTP2_PROTOCOL_ERROR);
}

TEST_F(H2StreamStates, ARingRemembersTheRecentStreamsAndForgetsOldOnes) {
  for (int32_t id = 1; id < 1200; id += 2) say(get(id));  // 600 streams, 400 slots
  // Stream 1 is forgotten: its DATA costs a stream error, not the connection.
  Answer a = say(data(1));
  EXPECT_EQ(a.resets[1], NGHTTP2_STREAM_CLOSED);
  EXPECT_EQ(a.goaway, UINT32_MAX);
  a = say(data(1001));  // remembered as ended
  EXPECT_EQ(a.goaway, NGHTTP2_STREAM_CLOSED);
}

}  // namespace
}  // namespace shoal::http::h2
