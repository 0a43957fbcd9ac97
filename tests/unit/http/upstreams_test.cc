#include "http/upstreams.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shoal::http {
namespace {

using namespace std::chrono_literals;
using Time = UpstreamClock::time_point;

Url url(const std::string& text) { return *Url::parse(text); }

std::vector<std::string> names(const std::vector<Url>& urls) {
  std::vector<std::string> out;
  for (const Url& u : urls) out.push_back(u.str());
  return out;
}

const std::string A = "http://a:1", B = "http://b:2", C = "http://c:3";

MemberOrder three() {
  MemberOrder o;
  o.set_members({url(A), url(B), url(C)});
  return o;
}

TEST(UpstreamsOrder, MembersAreTriedInTheOrderGiven) {
  EXPECT_EQ(names(three().order(Time{})), (std::vector{A, B, C}));
}

TEST(UpstreamsOrder, AMemberThatJustFailedGoesToTheBack) {
  auto o = three();
  Time t0{100s};
  o.failed(url(A), t0);
  EXPECT_EQ(names(o.order(t0 + 1s)), (std::vector{B, C, A}));
}

TEST(UpstreamsOrder, TheMarkLapsesAfterTenSeconds) {
  auto o = three();
  Time t0{100s};
  o.failed(url(A), t0);
  EXPECT_EQ(names(o.order(t0 + 9s)), (std::vector{B, C, A}));
  EXPECT_EQ(names(o.order(t0 + kFailedFor)), (std::vector{A, B, C}));
}

TEST(UpstreamsOrder, WhenAllFailedTheStalestFailureIsTriedFirst) {
  auto o = three();
  Time t0{100s};
  o.failed(url(B), t0);
  o.failed(url(C), t0 + 1s);
  o.failed(url(A), t0 + 2s);
  EXPECT_EQ(names(o.order(t0 + 3s)), (std::vector{B, C, A}));
}

TEST(UpstreamsOrder, FailingAgainMovesTheMarkForward) {
  auto o = three();
  Time t0{100s};
  o.failed(url(A), t0);
  o.failed(url(B), t0 + 1s);
  o.failed(url(A), t0 + 2s);
  EXPECT_EQ(names(o.order(t0 + 3s)), (std::vector{C, B, A}));
  EXPECT_EQ(names(o.order(t0 + 11s)), (std::vector{B, C, A})) << "B's mark lapsed, A's not";
}

TEST(UpstreamsOrder, ASuccessClearsTheMark) {
  auto o = three();
  Time t0{100s};
  o.failed(url(A), t0);
  o.succeeded(url(A));
  EXPECT_EQ(names(o.order(t0 + 1s)), (std::vector{A, B, C}));
}

TEST(UpstreamsOrder, NewMembersKeepTheMarksOfThoseThatStay) {
  auto o = three();
  Time t0{100s};
  o.failed(url(A), t0);
  o.failed(url(C), t0);
  o.set_members({url(A), url(B)});
  EXPECT_EQ(names(o.order(t0 + 1s)), (std::vector{B, A}));
  o.set_members({url(A), url(B), url(C)});
  EXPECT_EQ(names(o.order(t0 + 1s)), (std::vector{B, C, A})) << "C came back unmarked";
}

TEST(UpstreamsOutcome, ConnectionErrorsTimeoutsAnd5xxAreWorthAnother) {
  EXPECT_TRUE(worth_another(Error(Errc::unavailable, "connection refused")));
  EXPECT_TRUE(worth_another(Error(Errc::timed_out, "read timed out")));
  EXPECT_FALSE(worth_another(Error(Errc::not_found, "no such blob")));
  EXPECT_FALSE(worth_another(Error(Errc::digest_mismatch, "bad bytes")));
  EXPECT_FALSE(worth_another(Error(Errc::bad_request, "bad range")));
  Response r;
  r.status = 503;
  EXPECT_TRUE(worth_another(Result<Response>(r)));
  r.status = 500;
  EXPECT_TRUE(worth_another(Result<Response>(r)));
  r.status = 404;
  EXPECT_FALSE(worth_another(Result<Response>(r)));
  r.status = 200;
  EXPECT_FALSE(worth_another(Result<Response>(r)));
  EXPECT_FALSE(worth_another(Result<int>(7)));
}

// Upstreams over a fake clock and a fake resolver that counts its calls.
struct Fixture {
  Time now{1000s};
  int resolutions = 0;
  std::vector<Url> dns_answer{url(A), url(B)};
  bool dns_fails = false;
  std::vector<std::string> failovers;

  Upstreams make(const std::string& list) {
    auto parsed = EndpointList::parse(list);
    EXPECT_TRUE(parsed) << list;
    return Upstreams(
        *parsed, "origin", [this] { return now; },
        [this, parsed = *parsed]() -> Result<std::vector<Url>> {
          ++resolutions;
          if (!parsed.from_dns()) return parsed.urls();
          if (dns_fails) return Error(Errc::unavailable, "cannot resolve");
          return dns_answer;
        });
  }
};

TEST(UpstreamsTry, TheFirstAnswerWinsAndLaterMembersAreNotAsked) {
  Fixture f;
  Upstreams u(*EndpointList::parse(A + "," + B), "origin", [&f] { return f.now; });
  std::vector<std::string> asked;
  auto got = u.first_answer([&](const Url& m) -> Result<int> {
    asked.push_back(m.str());
    return 1;
  });
  ASSERT_TRUE(got);
  EXPECT_EQ(asked, std::vector{A});
}

TEST(UpstreamsTry, AConnectionErrorMovesOnAndMarksTheMember) {
  Fixture f;
  Upstreams u(*EndpointList::parse(A + "," + B + "," + C), "origin", [&f] { return f.now; });
  std::vector<std::string> hooks;
  u.on_failover([&](const Url& from, const Error& why, const Url& to) {
    hooks.push_back(from.str() + " " + why.message + " " + to.str());
  });
  std::vector<std::string> asked;
  auto got = u.first_answer([&](const Url& m) -> Result<std::string> {
    asked.push_back(m.str());
    if (m.str() == A) return Error(Errc::unavailable, "connection refused");
    return m.str();
  });
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, B);
  EXPECT_EQ(asked, (std::vector{A, B}));
  EXPECT_EQ(hooks, std::vector<std::string>{A + " connection refused " + B});
  EXPECT_EQ(names(*u.order()), (std::vector{B, C, A}));
}

TEST(UpstreamsTry, A5xxResponseMovesOnButA404IsTheAnswer) {
  Fixture f;
  Upstreams u(*EndpointList::parse(A + "," + B + "," + C), "origin", [&f] { return f.now; });
  std::vector<std::string> asked;
  auto got = u.first_answer([&](const Url& m) -> Result<Response> {
    asked.push_back(m.str());
    Response r;
    r.status = m.str() == A ? 502 : 404;
    return r;
  });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 404u);
  EXPECT_EQ(asked, (std::vector{A, B}));
}

TEST(UpstreamsTry, ADigestMismatchIsFinal) {
  Fixture f;
  Upstreams u(*EndpointList::parse(A + "," + B), "origin", [&f] { return f.now; });
  int calls = 0;
  auto got = u.first_answer([&](const Url&) -> Result<int> {
    ++calls;
    return Error(Errc::digest_mismatch, "bad bytes");
  });
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is(Errc::digest_mismatch));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(names(*u.order()), (std::vector{A, B})) << "an answer is no failure of A";
}

TEST(UpstreamsTry, WhenAllFailTheLastErrorSaysHowManyWereTried) {
  Fixture f;
  Upstreams u(*EndpointList::parse(A + "," + B), "origin", [&f] { return f.now; });
  auto got = u.first_answer(
      [&](const Url& m) -> Result<int> { return Error(Errc::timed_out, m.str() + " timed out"); });
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is(Errc::timed_out));
  EXPECT_EQ(got.error().message, B + " timed out (all 2 origins failed)");
}

TEST(UpstreamsTry, OneMemberFailsWithItsOwnMessage) {
  Fixture f;
  Upstreams u(*EndpointList::parse(A), "origin", [&f] { return f.now; });
  auto got = u.first_answer(
      [&](const Url&) -> Result<int> { return Error(Errc::unavailable, "connection refused"); });
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().message, "connection refused");
}

TEST(UpstreamsTry, TheNextCallStartsWithTheMemberThatAnswered) {
  Fixture f;
  Upstreams u(*EndpointList::parse(A + "," + B), "origin", [&f] { return f.now; });
  std::vector<std::string> asked;
  auto call = [&] {
    return u.first_answer([&](const Url& m) -> Result<int> {
      asked.push_back(m.str());
      if (m.str() == A) return Error(Errc::unavailable, "down");
      return 0;
    });
  };
  ASSERT_TRUE(call());
  ASSERT_TRUE(call());
  EXPECT_EQ(asked, (std::vector{A, B, B}));
  f.now += kFailedFor;
  ASSERT_TRUE(call());
  EXPECT_EQ(asked.back(), B);
  EXPECT_EQ(asked[asked.size() - 2], A) << "after 10 s, A is tried first again";
}

TEST(UpstreamsResolve, AStaticListIsResolvedOnce) {
  Fixture f;
  auto u = f.make(A + "," + B);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(u.order());
    f.now += 60s;
  }
  EXPECT_EQ(f.resolutions, 1);
}

TEST(UpstreamsResolve, ADnsListIsResolvedAgainAtMostEveryThirtySeconds) {
  Fixture f;
  auto u = f.make("dns:origins:4100");
  EXPECT_EQ(names(*u.order()), (std::vector{A, B}));
  f.now += 29s;
  f.dns_answer = {url(A), url(B), url(C)};
  EXPECT_EQ(names(*u.order()), (std::vector{A, B}));
  EXPECT_EQ(f.resolutions, 1);
  f.now += 1s;
  EXPECT_EQ(names(*u.order()), (std::vector{A, B, C}));
  EXPECT_EQ(f.resolutions, 2);
}

TEST(UpstreamsResolve, ADnsFailureKeepsTheLastMembersAndAsksAgain) {
  Fixture f;
  auto u = f.make("dns:origins:4100");
  ASSERT_TRUE(u.order());
  f.now += 30s;
  f.dns_fails = true;
  EXPECT_EQ(names(*u.order()), (std::vector{A, B}));
  f.dns_fails = false;
  f.dns_answer = {url(C)};
  EXPECT_EQ(names(*u.order()), std::vector{C}) << "a failed resolution is retried at once";
  EXPECT_EQ(f.resolutions, 3);
}

TEST(UpstreamsResolve, ANameThatNeverResolvedIsUnavailable) {
  Fixture f;
  f.dns_fails = true;
  auto u = f.make("dns:origins:4100");
  auto got = u.first_answer([](const Url&) -> Result<int> { return 0; });
  ASSERT_FALSE(got);
  EXPECT_TRUE(got.error().is(Errc::unavailable));
}

TEST(UpstreamsResolve, ANameWithNoRecordsIsUnavailable) {
  Fixture f;
  f.dns_answer = {};
  auto u = f.make("dns:origins:4100");
  auto got = u.order();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().message, "dns:origins:4100 names no origin");
}

TEST(UpstreamsResolve, MarksSurviveAResolution) {
  Fixture f;
  auto u = f.make("dns:origins:4100");
  ASSERT_TRUE(u.order());
  f.now += 25s;
  u.failed(url(A));
  f.now += 5s;
  f.dns_answer = {url(A), url(B), url(C)};
  EXPECT_EQ(names(*u.order()), (std::vector{B, C, A}));
  EXPECT_EQ(f.resolutions, 2);
}

}  // namespace
}  // namespace shoal::http
