#include "origin/cluster.h"

#include <algorithm>
#include <stdexcept>

namespace shoal::origin {
namespace {

std::vector<std::string> names_of(const std::vector<Url>& urls) {
  std::vector<std::string> names;
  for (const Url& u : urls) names.push_back(u.str());
  return names;
}

}  // namespace

Cluster::Cluster(ClusterOptions opts, SteadyClock::time_point now) : opts_(std::move(opts)) {
  std::vector<Url> members;
  if (!opts_.origins.empty()) {
    auto resolved = opts_.origins.resolve();
    if (!resolved) throw std::runtime_error("origins: " + resolved.error().message);
    members = canonical_members(std::move(*resolved));
  }
  if (members.empty()) {
    // A ring of one: this origin alone, as before rings existed.
    if (opts_.self) members.push_back(*opts_.self);
    self_ = opts_.self.value_or(Url{});
  } else {
    if (!opts_.self) {
      throw std::runtime_error("origins is set but self is not: give this origin's own URL "
                               "(--self http://HOST:PORT), as it appears in origins");
    }
    self_ = *opts_.self;
    bool found = std::any_of(members.begin(), members.end(),
                             [&](const Url& u) { return u.str() == self_.str(); });
    if (!found) {
      throw std::runtime_error("self " + self_.str() + " is not one of the origins (" +
                               opts_.origins.str() + ")");
    }
  }
  if (opts_.replicas == 0) throw std::runtime_error("replicas must be at least 1");
  if (opts_.write_quorum == 0) throw std::runtime_error("write_quorum must be at least 1");
  set_members(std::move(members), now);
}

bool Cluster::enabled() const {
  std::lock_guard lock(mu_);
  return ring_.size() > 1;
}

size_t Cluster::replicas() const {
  std::lock_guard lock(mu_);
  return std::max<size_t>(1, std::min(opts_.replicas, ring_.size()));
}

size_t Cluster::write_quorum() const { return std::min(opts_.write_quorum, replicas()); }

uint64_t Cluster::fingerprint() const {
  std::lock_guard lock(mu_);
  return ring_.fingerprint();
}

std::vector<std::string> Cluster::members() const {
  std::lock_guard lock(mu_);
  return ring_.members();
}

bool Cluster::lost(const Health& h, SteadyClock::time_point now) const {
  return !h.up && now - h.down_since >= opts_.repair_after;
}

Owner Cluster::owner_at(size_t index, SteadyClock::time_point now) const {
  const Health& h = health_[index];
  const bool me = urls_[index].str() == self_.str();
  return Owner{index, urls_[index], me, me || h.up, !me && lost(h, now)};
}

std::vector<Owner> Cluster::order(std::string_view key, SteadyClock::time_point now) const {
  std::lock_guard lock(mu_);
  std::vector<Owner> out;
  for (size_t i : ring_.order(key)) out.push_back(owner_at(i, now));
  return out;
}

std::vector<Owner> Cluster::owners(std::string_view key, SteadyClock::time_point now) const {
  auto all = order(key, now);
  all.resize(std::min(all.size(), replicas()));
  return all;
}

std::vector<Owner> Cluster::repair_owners(std::string_view key,
                                          SteadyClock::time_point now) const {
  auto all = order(key, now);
  std::vector<Owner> out;
  const size_t want = replicas();
  for (auto& o : all) {
    if (out.size() == want) break;
    if (!o.lost) out.push_back(std::move(o));
  }
  return out;
}

bool Cluster::is_owner(std::string_view key, SteadyClock::time_point now) const {
  for (const auto& o : owners(key, now)) {
    if (o.self) return true;
  }
  return false;
}

std::vector<Url> Cluster::peers() const {
  std::lock_guard lock(mu_);
  std::vector<Url> out;
  for (const Url& u : urls_) {
    if (u.str() != self_.str()) out.push_back(u);
  }
  return out;
}

std::optional<size_t> Cluster::index_of(const Url& u) const {
  const std::string name = u.str();
  for (size_t i = 0; i < urls_.size(); ++i) {
    if (urls_[i].str() == name) return i;
  }
  return std::nullopt;
}

void Cluster::record(size_t index, bool ok, SteadyClock::time_point now) {
  Health& h = health_[index];
  if (ok) {
    h.fails = 0;
    if (!h.up && ++h.passes >= opts_.passes_to_up) {
      h.up = true;
      h.passes = 0;
    }
    return;
  }
  h.passes = 0;
  if (h.up && ++h.fails >= opts_.fails_to_down) {
    h.up = false;
    h.fails = 0;
    h.down_since = now;
  }
}

void Cluster::report_check(const Url& member, bool ok, std::optional<uint64_t> their_fingerprint,
                           SteadyClock::time_point now) {
  std::lock_guard lock(mu_);
  auto i = index_of(member);
  if (!i) return;
  record(*i, ok, now);
  if (their_fingerprint) health_[*i].mismatch = *their_fingerprint != ring_.fingerprint();
}

void Cluster::report_failure(const Url& member, SteadyClock::time_point now) {
  std::lock_guard lock(mu_);
  if (auto i = index_of(member)) record(*i, false, now);
}

void Cluster::set_members(std::vector<Url> urls, SteadyClock::time_point now) {
  urls = canonical_members(std::move(urls));
  std::lock_guard lock(mu_);
  std::vector<Health> health(urls.size());
  for (size_t i = 0; i < urls.size(); ++i) {
    if (auto old = index_of(urls[i])) health[i] = health_[*old];
  }
  (void)now;
  ring_ = Ring(names_of(urls));
  urls_ = std::move(urls);
  health_ = std::move(health);
}

std::vector<Cluster::MemberStatus> Cluster::status(SteadyClock::time_point now) const {
  std::lock_guard lock(mu_);
  std::vector<MemberStatus> out;
  for (size_t i = 0; i < urls_.size(); ++i) {
    Owner o = owner_at(i, now);
    const Health& h = health_[i];
    auto down_for = o.up ? std::chrono::milliseconds(0)
                         : std::chrono::duration_cast<std::chrono::milliseconds>(now - h.down_since);
    out.push_back({o.url, o.self, o.up, o.lost, h.mismatch, down_for});
  }
  return out;
}

size_t Cluster::mismatches() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(
      std::count_if(health_.begin(), health_.end(), [](const Health& h) { return h.mismatch; }));
}

}  // namespace shoal::origin
