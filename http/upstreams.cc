#include "http/upstreams.h"

#include <algorithm>

namespace shoal::http {

bool worth_another(const Error& e) { return e.is(Errc::unavailable) || e.is(Errc::timed_out); }

bool worth_another(const Response& r) { return r.status >= 500; }

Error failure_of(const Result<Response>& r) {
  if (!r) return r.error();
  return Error(errc_for_status(r->status), "answered " + describe_failure(*r));
}

void MemberOrder::set_members(std::vector<Url> members) {
  members_ = std::move(members);
  std::erase_if(marks_, [&](const Mark& m) {
    return std::none_of(members_.begin(), members_.end(),
                        [&](const Url& u) { return u.str() == m.member; });
  });
}

std::vector<Url> MemberOrder::order(Time now) const {
  auto mark_of = [&](const Url& u) -> const Mark* {
    for (const Mark& m : marks_) {
      if (m.member == u.str() && now - m.at < kFailedFor) return &m;
    }
    return nullptr;
  };
  std::vector<Url> fresh, marked;
  for (const Url& u : members_) (mark_of(u) ? marked : fresh).push_back(u);
  // stable: members that failed at the same instant keep their list order
  std::stable_sort(marked.begin(), marked.end(),
                   [&](const Url& a, const Url& b) { return mark_of(a)->at < mark_of(b)->at; });
  fresh.insert(fresh.end(), marked.begin(), marked.end());
  return fresh;
}

void MemberOrder::failed(const Url& member, Time now) {
  succeeded(member);
  marks_.push_back({member.str(), now});
}

void MemberOrder::succeeded(const Url& member) {
  std::erase_if(marks_, [&](const Mark& m) { return m.member == member.str(); });
}

Upstreams::Upstreams(EndpointList list, std::string role, Now now, Resolver resolver)
    : list_(std::move(list)),
      role_(std::move(role)),
      now_(std::move(now)),
      resolver_(resolver ? std::move(resolver) : [this] { return list_.resolve(); }) {}

Result<void> Upstreams::refresh(UpstreamClock::time_point now) {
  if (resolved_ && (!list_.from_dns() || now - resolved_at_ < kResolveEvery)) return {};
  auto members = resolver_();
  if (members && members->empty())
    members = Error(Errc::unavailable, list_.str() + " names no " + role_);
  if (!members) {
    if (!resolved_) return members.error();
    // The last members are better than none; ask DNS again at the next call.
    resolved_at_ = now - kResolveEvery;
    return {};
  }
  order_.set_members(std::move(*members));
  resolved_ = true;
  resolved_at_ = now;
  return {};
}

Result<std::vector<Url>> Upstreams::order() {
  std::lock_guard lock(mu_);
  auto now = now_();
  if (auto ok = refresh(now); !ok) return ok.error();
  return order_.order(now);
}

void Upstreams::failed(const Url& member) {
  std::lock_guard lock(mu_);
  order_.failed(member, now_());
}

void Upstreams::succeeded(const Url& member) {
  std::lock_guard lock(mu_);
  order_.succeeded(member);
}

void Upstreams::report(const Url& failed, const Error& why, const Url& next) const {
  if (hook_) hook_(failed, why, next);
}

Error Upstreams::all_failed(const Error& last, size_t tried) const {
  return Error(last.code, last.message + " (all " + std::to_string(tried) + " " + role_ +
                              "s failed)");
}

}  // namespace shoal::http
