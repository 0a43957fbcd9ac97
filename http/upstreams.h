// Several servers of one role (the origins of a ring) as a client sees them: which to
// try first, and trying the next when one fails. Every client of the origins (push,
// pull, get, the peer agent, the tracker) goes through this, so failover behaves the
// same everywhere:
//
//   - Members come from an EndpointList; a dns:NAME:PORT list is resolved again at
//     most every kResolveEvery, so a ring that grows is seen without a restart.
//   - Passive marking: a member that just failed (cannot connect, timed out, 5xx)
//     goes to the back of the order for kFailedFor. It is not dropped: when every
//     member failed recently, all are still tried, the stalest failure first.
//   - Only failures another member may not share move on: Errc::unavailable and
//     Errc::timed_out (which is what the client makes of connection errors and 5xx
//     answers) and a 5xx Response. A 404, a 400 or a digest mismatch is the answer.
//
// MemberOrder is the decision, sans-I/O and fed a clock; Upstreams adds resolution
// and a lock, since the peer agent calls it from several threads.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "core/endpoint_list.h"
#include "core/error.h"
#include "core/url.h"
#include "http/client.h"

namespace shoal::http {

using UpstreamClock = std::chrono::steady_clock;

inline constexpr std::chrono::seconds kResolveEvery{30};
inline constexpr std::chrono::seconds kFailedFor{10};

// Whether another member may succeed where this one failed.
bool worth_another(const Error& e);
bool worth_another(const Response& r);  // a 5xx
template <class T>
bool worth_another(const Result<T>& r) {
  if (!r) return worth_another(r.error());
  if constexpr (std::is_same_v<T, Response>) return worth_another(*r);
  return false;
}

class MemberOrder {
 public:
  using Time = UpstreamClock::time_point;

  // Keeps the marks of members that are still there.
  void set_members(std::vector<Url> members);
  const std::vector<Url>& members() const { return members_; }
  // Members not marked (in list order), then marked ones, the oldest failure first.
  std::vector<Url> order(Time now) const;
  void failed(const Url& member, Time now);
  void succeeded(const Url& member);

 private:
  struct Mark {
    std::string member;  // Url::str()
    Time at;
  };
  std::vector<Url> members_;
  std::vector<Mark> marks_;
};

// Told when an attempt failed and the next member is tried: (failed, why, next).
using FailoverHook = std::function<void(const Url&, const Error&, const Url&)>;

class Upstreams {
 public:
  using Now = std::function<UpstreamClock::time_point()>;
  using Resolver = std::function<Result<std::vector<Url>>()>;

  // `role` names the members in errors ("origin"). The resolver defaults to
  // list.resolve(); tests give their own, and a clock.
  Upstreams(EndpointList list, std::string role, Now now = UpstreamClock::now,
            Resolver resolver = {});
  Upstreams(const Upstreams&) = delete;
  Upstreams& operator=(const Upstreams&) = delete;

  // The members to try now, best first. Errc::unavailable when a dns: list has never
  // resolved; a list that resolved once keeps its last members if DNS then fails.
  Result<std::vector<Url>> order();
  void failed(const Url& member);
  void succeeded(const Url& member);
  const std::string& role() const { return role_; }
  std::string str() const { return list_.str(); }  // as given, for state-file keys
  void on_failover(FailoverHook hook) { hook_ = std::move(hook); }

  // fn(member) on each member in order() until one gives an answer that is not
  // worth_another; marks members as it goes. When all fail, the last outcome, its
  // message saying how many were tried.
  template <class Fn>
  auto first_answer(Fn&& fn) -> decltype(fn(std::declval<const Url&>()));

 private:
  Result<void> refresh(UpstreamClock::time_point now);  // under mu_
  void report(const Url& failed, const Error& why, const Url& next) const;
  Error all_failed(const Error& last, size_t tried) const;

  const EndpointList list_;
  const std::string role_;
  const Now now_;
  const Resolver resolver_;
  FailoverHook hook_;
  std::mutex mu_;
  MemberOrder order_;
  bool resolved_ = false;
  UpstreamClock::time_point resolved_at_{};
};

// The error of an outcome worth another member: the error itself, or a 5xx as one.
Error failure_of(const Result<Response>& r);
template <class T>
Error failure_of(const Result<T>& r) {
  return r.error();
}

template <class Fn>
auto Upstreams::first_answer(Fn&& fn) -> decltype(fn(std::declval<const Url&>())) {
  auto members = order();
  if (!members) return members.error();
  for (size_t i = 0;; ++i) {
    const Url& member = (*members)[i];
    auto outcome = fn(member);
    if (!worth_another(outcome)) {
      succeeded(member);
      return outcome;
    }
    failed(member);
    if (i + 1 == members->size()) {
      if (outcome || i == 0) return outcome;  // a 5xx Response is passed on as it is
      return all_failed(outcome.error(), i + 1);
    }
    report(member, failure_of(outcome), (*members)[i + 1]);
  }
}

}  // namespace shoal::http
