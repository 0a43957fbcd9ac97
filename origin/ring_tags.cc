#include "origin/ring_tags.h"

#include <algorithm>

#include "core/text.h"

namespace shoal::origin {
namespace {

// A coordinator that lost a race starts over against the winner's value; past this
// many rounds the tag is too contended to promise anything.
constexpr int kRounds = 3;

std::string tag_named(std::string_view name) { return "tag \"" + std::string(name) + "\""; }

}  // namespace

TagRecord newest_record(const std::vector<TagRecord>& records) {
  TagRecord best;
  for (const TagRecord& r : records) {
    if (best.stamp < r.stamp) best = r;
  }
  return best;
}

std::mutex& TagCoordinator::stripe(std::string_view name) {
  return stripes_[std::hash<std::string_view>{}(name) % stripes_.size()];
}

std::vector<TagCoordinator::Copy> TagCoordinator::read_all(
    std::string_view name, const std::vector<TagReplica*>& owners) {
  std::vector<Copy> copies;
  for (TagReplica* owner : owners) {
    if (auto rec = owner->read(name)) copies.push_back({owner, *rec});
  }
  return copies;
}

// Brings every copy behind `to` up to it. Compare-and-swap on what each copy held,
// so a copy that moved on meanwhile is left alone.
void TagCoordinator::repair(std::string_view name, std::vector<Copy>& copies,
                            const TagRecord& to) {
  for (Copy& c : copies) {
    if (c.rec == to) continue;
    if (auto r = c.owner->apply(name, to, c.rec.stamp)) c.rec = r->applied ? to : r->current;
  }
}

TagCoordinator::Offered TagCoordinator::offer(std::string_view name, std::vector<Copy>& copies,
                                              const TagRecord& next, const TagRecord& base,
                                              size_t quorum) {
  std::vector<Copy*> took;
  std::optional<TagRecord> rival;
  for (Copy& c : copies) {
    auto r = c.owner->apply(name, next, base.stamp);
    if (!r) continue;
    // A reader's repair may have copied `next` there first: as good as taking it.
    if (r->applied || r->current == next) {
      c.rec = next;
      took.push_back(&c);
      continue;
    }
    c.rec = r->current;
    if (base.stamp < r->current.stamp && (!rival || rival->stamp < r->current.stamp))
      rival = r->current;
  }
  if (took.size() >= quorum) return {Outcome::written, took.size()};
  if (!rival) return {Outcome::too_few, took.size()};
  // Another coordinator wrote this version first. Step aside: our copies take its
  // record, so no owner keeps a value that never reached a quorum.
  for (Copy* c : took) {
    if (auto r = c->owner->apply(name, *rival, next.stamp)) c->rec = r->current;
  }
  return {Outcome::lost_race, took.size()};
}

Result<TagRecord> TagCoordinator::write(std::string_view name, const TagChange& change,
                                        const std::vector<TagReplica*>& owners, size_t quorum) {
  std::lock_guard lock(stripe(name));
  auto too_few = [&](size_t n, std::string_view what) {
    return Error(Errc::no_quorum, tag_named(name) + ": " + std::to_string(n) + " of " +
                                        std::to_string(owners.size()) + " owners " +
                                        std::string(what) + "; a write needs write_quorum = " +
                                        std::to_string(quorum));
  };
  std::optional<TagRecord> mine;  // our record of a round that seemed to lose
  for (int round = 0; round < kRounds; ++round) {
    auto copies = read_all(name, owners);
    if (copies.size() < quorum) return too_few(copies.size(), "answered");
    std::vector<TagRecord> records;
    for (const Copy& c : copies) records.push_back(c.rec);
    const TagRecord current = newest_record(records);
    repair(name, copies, current);
    // The rival may have stepped aside for us: then our write stands, and needs only
    // its quorum, not the client's precondition (which it already passed).
    const bool ours = mine && current == *mine;
    if (ours) {
      auto held = std::count_if(copies.begin(), copies.end(),
                                [&](const Copy& c) { return c.rec == current; });
      if (static_cast<size_t>(held) >= quorum) return current;
    } else if (!change.precondition.holds(current)) {
      return Error(Errc::precondition_failed, change.precondition.why_not(name, current));
    } else if (!change.digest && !current.exists()) {
      return Error(Errc::not_found, "no " + tag_named(name));
    }
    const TagRecord next{change.digest, {current.stamp.version + 1, writer_ids_()}};
    const Offered offered = offer(name, copies, next, current, quorum);
    switch (offered.outcome) {
      case Outcome::written: return next;
      case Outcome::too_few: return too_few(offered.took, "accepted the write");
      case Outcome::lost_race: mine = next; break;
    }
  }
  return Error(Errc::conflict, tag_named(name) + " kept changing while being written by "
                                   "other clients; read it and try again");
}

Result<TagRecord> TagCoordinator::read(std::string_view name,
                                       const std::vector<TagReplica*>& owners) {
  auto copies = read_all(name, owners);
  if (copies.empty()) {
    return Error(Errc::no_quorum, tag_named(name) + ": none of its " +
                                        std::to_string(owners.size()) + " owners answered");
  }
  std::vector<TagRecord> records;
  for (const Copy& c : copies) records.push_back(c.rec);
  TagRecord current = newest_record(records);
  repair(name, copies, current);
  return current;
}

}  // namespace shoal::origin
