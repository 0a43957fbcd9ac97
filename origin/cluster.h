// The ring as this origin sees it: its members (a Ring), which of them is this
// origin, and the health of the others. Placement never depends on health: a member
// that is down keeps its place in every order, so a flapping node reshuffles nothing;
// it only drops out of the write set while down, and out of the repair set once it
// has been down longer than repair_after.
//
// A state machine fed results and a clock (no sockets): cluster_checks.cc runs the
// active checks and feeds them in; failed requests to a member feed in passively.
// Thread-safe: request handlers and the checker use it at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint_list.h"
#include "core/url.h"
#include "origin/ring.h"

namespace shoal::origin {

using SteadyClock = std::chrono::steady_clock;

struct ClusterOptions {
  EndpointList origins;  // empty: a ring of one (this origin alone)
  std::optional<Url> self;
  size_t replicas = 3;
  size_t write_quorum = 2;
  unsigned fails_to_down = 2;   // consecutive failed checks that mark a member down
  unsigned passes_to_up = 2;    // consecutive good checks that mark it up again
  std::chrono::milliseconds check_interval{2'000};
  std::chrono::milliseconds repair_after{600'000};
  uint64_t repair_rate = 100ull << 20;  // bytes per second of background copies
};

struct Owner {
  size_t index = 0;  // in the ring's member list
  Url url;
  bool self = false;
  bool up = true;
  // Down for longer than repair_after: its blobs are being copied elsewhere.
  bool lost = false;
};

class Cluster {
 public:
  // Throws std::runtime_error (start-up) when self is missing from the members, or
  // the members cannot be resolved.
  Cluster(ClusterOptions opts, SteadyClock::time_point now);

  // More than one member: placement, forwarding and replication matter.
  bool enabled() const;
  const Url& self() const { return self_; }
  size_t replicas() const;      // min(replicas, members)
  size_t write_quorum() const;  // min(write_quorum, replicas)
  uint64_t fingerprint() const;
  std::vector<std::string> members() const;

  // The first replicas() members of key's order, with their health now.
  std::vector<Owner> owners(std::string_view key, SteadyClock::time_point now) const;
  // The whole order (every member), with health.
  std::vector<Owner> order(std::string_view key, SteadyClock::time_point now) const;
  // Where copies of key belong while some members are lost: the first replicas()
  // members of the order that are not lost. Equal to owners() when none is lost.
  std::vector<Owner> repair_owners(std::string_view key, SteadyClock::time_point now) const;
  bool is_owner(std::string_view key, SteadyClock::time_point now) const;

  // The other members, whom the active checks visit.
  std::vector<Url> peers() const;
  // One active check's outcome. `their_fingerprint` is the member list the peer
  // reported (nullopt when the check failed); a different one is a mismatch.
  void report_check(const Url& member, bool ok, std::optional<uint64_t> their_fingerprint,
                    SteadyClock::time_point now);
  // A request to the member failed (connection error, timeout, 5xx): counts as a
  // failed check, so a dead member leaves the write set without waiting for the checker.
  void report_failure(const Url& member, SteadyClock::time_point now);
  // New members (a dns: list re-resolved). Keeps the health of members that stay.
  void set_members(std::vector<Url> urls, SteadyClock::time_point now);

  struct MemberStatus {
    Url url;
    bool self = false;
    bool up = true;
    bool lost = false;
    bool mismatch = false;  // its member list differs from ours
    std::chrono::milliseconds down_for{0};
  };
  std::vector<MemberStatus> status(SteadyClock::time_point now) const;
  size_t mismatches() const;
  const ClusterOptions& options() const { return opts_; }

 private:
  struct Health {
    bool up = true;
    bool mismatch = false;
    unsigned fails = 0, passes = 0;
    SteadyClock::time_point down_since{};
  };
  std::optional<size_t> index_of(const Url& u) const;  // under mu_
  Owner owner_at(size_t index, SteadyClock::time_point now) const;  // under mu_
  bool lost(const Health& h, SteadyClock::time_point now) const;
  void record(size_t index, bool ok, SteadyClock::time_point now);  // under mu_

  ClusterOptions opts_;
  Url self_;
  mutable std::mutex mu_;
  Ring ring_;
  std::vector<Url> urls_;        // by ring index
  std::vector<Health> health_;   // by ring index
};

}  // namespace shoal::origin
