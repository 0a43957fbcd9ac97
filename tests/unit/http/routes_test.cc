#include "http/routes.h"

#include <gtest/gtest.h>

#include "tests/unit/support/fake_exchange.h"

namespace shoal::http {
namespace {

using bhttp::verb;
using test::FakeExchange;

template <class F>
void run(F&& body) {
  asio::io_context ioc;
  asio::co_spawn(ioc, std::forward<F>(body), asio::detached);
  ioc.run();
}

TEST(MatchRoute, ALiteralPatternTakesThatPathAlone) {
  EXPECT_EQ(match_route("/health", "/health"), "");
  EXPECT_FALSE(match_route("/health", "/health/"));
  EXPECT_FALSE(match_route("/health", "/healthz"));
  EXPECT_FALSE(match_route("/health", "/"));
}

TEST(MatchRoute, AnOptionalSlashTakesOneTrailingSlash) {
  EXPECT_EQ(match_route("/health/?", "/health"), "");
  EXPECT_EQ(match_route("/health/?", "/health/"), "");
  EXPECT_FALSE(match_route("/health/?", "/health//"));
  EXPECT_FALSE(match_route("/health/?", "/health/x"));
  EXPECT_FALSE(match_route("/health/?", "/healthz"));
}

TEST(MatchRoute, AStarTakesAnyRestEvenNone) {
  EXPECT_EQ(match_route("/blobs/*", "/blobs/sha256:ab"), "sha256:ab");
  EXPECT_EQ(match_route("/blobs/*", "/blobs/"), "");
  EXPECT_EQ(match_route("/blobs/*", "/blobs/a/b"), "a/b");
  EXPECT_FALSE(match_route("/blobs/*", "/blobs"));
}

TEST(MatchRoute, APlusNeedsSomething) {
  EXPECT_EQ(match_route("/blobs/+", "/blobs/x"), "x");
  EXPECT_FALSE(match_route("/blobs/+", "/blobs/"));
}

TEST(MatchRoute, ASuffixAfterTheWildcardIsCutOff) {
  EXPECT_EQ(match_route("/blobs/*/metainfo", "/blobs/sha256:ab/metainfo"), "sha256:ab");
  EXPECT_EQ(match_route("/blobs/*/metainfo", "/blobs//metainfo"), "");
  EXPECT_FALSE(match_route("/blobs/*/metainfo", "/blobs/metainfo"));  // prefix and suffix overlap
  EXPECT_FALSE(match_route("/blobs/*/metainfo", "/blobs/x/metainfo/"));
  EXPECT_FALSE(match_route("/blobs/+/swarm", "/blobs//swarm"));
}

TEST(AllowHeader, ListsMethodsInTheirOrder) {
  const verb methods[] = {verb::get, verb::head, verb::put, verb::delete_};
  EXPECT_EQ(allow_header(methods), "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(allow_header({}), "");
}

// Unmatched paths are labelled by their first segment, as split_route gives it.
TEST(FirstSegment, IsThePathUpToTheSecondSlash) {
  EXPECT_EQ(split_route("/blobs/x/y").first, "blobs");
  EXPECT_EQ(split_route("/v2").first, "v2");
  EXPECT_EQ(split_route("/").first, "");
  EXPECT_EQ(split_route("*").first, "");
}

// A table like a component's: what each handler was given is written to `seen`.
struct Table {
  std::string seen;
  Routes<> routes{{
                      {"/health/?", {}, "health",
                       [](Exchange& ex, std::string_view) { return respond_health(ex); }},
                      {"/blobs/*/metainfo", {verb::get, verb::head}, "blobs",
                       [this](Exchange& ex, std::string_view rest) {
                         return note(ex, "meta " + std::string(rest));
                       }},
                      {"/blobs/+", {verb::get, verb::head, verb::put}, "blobs",
                       [this](Exchange& ex, std::string_view rest) {
                         return note(ex, "blob " + std::string(rest));
                       }},
                      {"/v2/*", {}, "registry",
                       [this](Exchange& ex, std::string_view rest) {
                         return note(ex, "v2 " + std::string(rest));
                       }},
                  },
                  Routes<>::Unmatched::by_segment};

  awaitable<void> note(Exchange& ex, std::string what) {
    seen = std::move(what);
    co_await ex.respond_json(bhttp::status::ok, "{}");
  }
  // Serves a request; the label serve() returned.
  std::string serve(FakeExchange& ex) {
    std::string label;
    run([&]() -> awaitable<void> { label = std::string(co_await routes.serve(ex)); });
    return label;
  }
};

TEST(Routes, TheFirstMatchingRouteGetsTheOpenPartOfItsPattern) {
  Table t;
  FakeExchange meta(verb::get, "/blobs/sha256:ab/metainfo?x=1");
  EXPECT_EQ(t.serve(meta), "blobs");
  EXPECT_EQ(t.seen, "meta sha256:ab");
  FakeExchange blob(verb::put, "/blobs/sha256:ab");
  EXPECT_EQ(t.serve(blob), "blobs");
  EXPECT_EQ(t.seen, "blob sha256:ab");
  FakeExchange v2(verb::patch, "/v2/library/x/blobs/uploads/1");
  EXPECT_EQ(t.serve(v2), "registry");
  EXPECT_EQ(t.seen, "v2 library/x/blobs/uploads/1");
  EXPECT_EQ(v2.status(), bhttp::status::ok);
}

TEST(Routes, HealthAnswersOk) {
  Table t;
  FakeExchange ex(verb::get, "/health");
  EXPECT_EQ(t.serve(ex), "health");
  EXPECT_EQ(ex.status(), bhttp::status::ok);
  EXPECT_EQ(ex.sent_body, R"({"status":"ok"})");
}

TEST(Routes, AMethodTheRouteDoesNotTakeIs405WithAllow) {
  Table t;
  FakeExchange ex(verb::delete_, "/blobs/sha256:ab");
  EXPECT_EQ(t.serve(ex), "blobs");
  EXPECT_EQ(t.seen, "");
  EXPECT_EQ(ex.status(), bhttp::status::method_not_allowed);
  EXPECT_EQ(ex.head[bhttp::field::allow], "GET, HEAD, PUT");
  EXPECT_NE(ex.sent_body.find("METHOD_NOT_ALLOWED"), std::string::npos);
  FakeExchange meta(verb::put, "/blobs/sha256:ab/metainfo");
  t.serve(meta);
  EXPECT_EQ(meta.head[bhttp::field::allow], "GET, HEAD");
}

TEST(Routes, AnUnknownPathIs404LabelledByItsSegmentWhenARouteSharesIt) {
  Table t;
  FakeExchange empty_blob(verb::get, "/blobs/");
  EXPECT_EQ(t.serve(empty_blob), "blobs");
  EXPECT_EQ(empty_blob.status(), bhttp::status::not_found);
  EXPECT_NE(empty_blob.sent_body.find("NOT_FOUND"), std::string::npos);
  FakeExchange health_sub(verb::get, "/health/deep");
  EXPECT_EQ(t.serve(health_sub), "health");
  EXPECT_EQ(health_sub.status(), bhttp::status::not_found);
  FakeExchange unknown(verb::post, "/nothing");
  EXPECT_EQ(t.serve(unknown), "other");
  EXPECT_EQ(unknown.status(), bhttp::status::not_found);
  EXPECT_EQ(t.routes.label("/v2"), "registry");  // no route takes it; one shares its segment
  EXPECT_EQ(t.routes.label("/v2x"), "other");
}

TEST(Routes, UnmatchedOtherLabelsEveryUnknownPathOther) {
  Routes<> routes{{{"/blobs/*", {verb::get}, "blobs",
                    [](Exchange& ex, std::string_view) { return respond_health(ex); }}},
                  Routes<>::Unmatched::other};
  EXPECT_EQ(routes.label("/blobs"), "other");
  EXPECT_EQ(routes.label("/blobs/"), "blobs");
}

TEST(Routes, PerRequestContextReachesTheHandler) {
  Routes<int&> routes{{{"/count/+", {}, "count",
                        [](Exchange& ex, std::string_view rest, int& n) -> awaitable<void> {
                          n = static_cast<int>(rest.size());
                          co_await respond_health(ex);
                        }}},
                      Routes<int&>::Unmatched::other};
  FakeExchange ex(verb::get, "/count/abc");
  int n = 0;
  run([&]() -> awaitable<void> { co_await routes.serve(ex, n); });
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace shoal::http
