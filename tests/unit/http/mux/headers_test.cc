#include "http/mux/headers.h"

#include <gtest/gtest.h>


namespace shoal::http::mux {
namespace {

using namespace std::chrono_literals;

std::string field(const std::vector<Field>& fields, std::string_view name) {
  for (const auto& f : fields) {
    if (f.name == name) return f.value;
  }
  return "<none>";
}

TEST(H2Headers, RequestHeadFromPseudoHeaders) {
  RequestBuilder b(16 * 1024);
  EXPECT_TRUE(b.add(":method", "PUT"));
  EXPECT_TRUE(b.add(":scheme", "https"));
  EXPECT_TRUE(b.add(":authority", "example.com:8443"));
  EXPECT_TRUE(b.add(":path", "/blobs/x?y=1"));
  EXPECT_TRUE(b.add("cookie", "a=1"));
  EXPECT_TRUE(b.add("content-length", "42"));
  EXPECT_TRUE(b.add("cookie", "b=2"));
  EXPECT_TRUE(b.add("x-thing", "v"));
  auto r = b.finish();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->head.method(), bhttp::verb::put);
  EXPECT_EQ(r->head.target(), "/blobs/x?y=1");
  EXPECT_EQ(r->head[bhttp::field::host], "example.com:8443");
  EXPECT_EQ(r->head[bhttp::field::cookie], "a=1; b=2");
  EXPECT_EQ(r->head["X-Thing"], "v");
  EXPECT_EQ(r->content_length, 42u);
}

TEST(H2Headers, MalformedRequestsAreRefused) {
  auto finish = [](std::vector<std::pair<std::string, std::string>> fields) {
    RequestBuilder b(16 * 1024);
    for (auto& [n, v] : fields) b.add(n, v);
    return b.finish();
  };
  EXPECT_FALSE(finish({{":path", "/"}}));                                     // no :method
  EXPECT_FALSE(finish({{":method", "GET"}}));                                 // no :path
  EXPECT_FALSE(finish({{":method", "GET"}, {":path", "nope"}}));              // not absolute
  EXPECT_FALSE(finish({{":method", "GET"}, {":path", "/a b"}}));              // space in path
  EXPECT_FALSE(finish({{":method", "G T"}, {":path", "/"}}));                 // not a token
  EXPECT_FALSE(finish({{":method", "GET"}, {":method", "PUT"}, {":path", "/"}}));
  EXPECT_FALSE(finish({{":method", "GET"}, {":path", "/"}, {":bogus", "x"}}));
  EXPECT_FALSE(finish({{":method", "GET"}, {":path", "/"}, {"connection", "close"}}));
  EXPECT_FALSE(finish({{":method", "GET"}, {":path", "/"}, {"Upper", "x"}}));
  EXPECT_FALSE(finish({{":method", "GET"}, {":path", "/"}, {"x", std::string("a\nb")}}));
  EXPECT_FALSE(finish({{":method", "GET"}, {":path", "/"}, {"content-length", "12x"}}));
  EXPECT_FALSE(finish({{":method", "CONNECT"}, {":authority", "h:1"}}));
  EXPECT_TRUE(finish({{":method", "OPTIONS"}, {":path", "*"}}));
}

TEST(H2Headers, OverTheLimitStopsStoring) {
  RequestBuilder b(1024);
  EXPECT_TRUE(b.add(":method", "GET"));
  EXPECT_TRUE(b.add(":path", "/"));
  std::string big(600, 'x');
  EXPECT_TRUE(b.add("a", big));
  EXPECT_FALSE(b.add("b", big));
  EXPECT_TRUE(b.over_limit());
  EXPECT_FALSE(b.add("c", ""));  // 32 bytes of overhead each, even empty
  EXPECT_GT(b.bytes(), 1024u);
}

TEST(H2Headers, ResponseFieldsFollowHttp2Rules) {
  Head head;
  head.result(bhttp::status::ok);
  head.set(bhttp::field::content_type, "text/plain");
  head.set(bhttp::field::connection, "close");
  head.set(bhttp::field::transfer_encoding, "chunked");
  head.set(bhttp::field::keep_alive, "timeout=5");
  head.set(bhttp::field::upgrade, "h2c");
  head.set(bhttp::field::server, "other");
  head.set(bhttp::field::content_length, "999");
  head.set("X-Mixed-Case", "v");
  auto fields = response_fields(head, "shoal", 5);
  ASSERT_FALSE(fields.empty());
  EXPECT_EQ(fields.front().name, ":status");
  EXPECT_EQ(fields.front().value, "200");
  EXPECT_EQ(field(fields, "content-type"), "text/plain");
  EXPECT_EQ(field(fields, "x-mixed-case"), "v");
  EXPECT_EQ(field(fields, "server"), "shoal");
  EXPECT_EQ(field(fields, "content-length"), "5");
  for (auto name : {"connection", "transfer-encoding", "keep-alive", "upgrade"}) {
    EXPECT_EQ(field(fields, name), "<none>") << name;
  }
  for (const auto& f : fields) {
    for (char c : f.name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << f.name;
  }
  head.result(bhttp::status::no_content);
  EXPECT_EQ(field(response_fields(head, "shoal", 0), "content-length"), "<none>");
  head.result(bhttp::status::not_modified);
  EXPECT_EQ(field(response_fields(head, "shoal", 10), "content-length"), "<none>");
}

}  // namespace
}  // namespace shoal::http::mux
