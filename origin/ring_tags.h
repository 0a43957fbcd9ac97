// Tags across the owners of a ring: each tag has `replicas` copies (TagStore records
// with a version), written through one coordinator and read as the newest copy.
// The consistency model is in docs/ARCHITECTURE.md, "Tags in a ring".
//
// A write reads the owners' copies, takes the newest, checks the client's precondition
// against it, brings laggards up to it, and then offers version+1 to every owner as a
// compare-and-swap on the newest stamp. An owner takes only one write per stamp, so of
// two coordinators that raced (say, two origins that each believe they come first)
// at most one reaches the write quorum; the other puts the winner's record back on the
// owners that took its own and starts over, now against the winner's value.
//
// Blocking and free of sockets: owners are TagReplica objects (the local TagStore, or
// another origin over HTTP), so the whole protocol runs in unit tests in memory.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "origin/tag_store.h"

namespace shoal::origin {

// One owner of a tag as a coordinator sees it. Errors mean "did not answer".
class TagReplica {
 public:
  virtual ~TagReplica() = default;
  virtual Result<TagRecord> read(std::string_view name) = 0;
  virtual Result<TagApplied> apply(std::string_view name, const TagRecord& rec,
                                   TagVersion expect) = 0;
};

// The newest record (highest stamp); an absent record when there are none.
TagRecord newest_record(const std::vector<TagRecord>& records);

class TagCoordinator {
 public:
  // `writer_ids` gives a random non-zero id to each write.
  explicit TagCoordinator(std::function<uint64_t()> writer_ids)
      : writer_ids_(std::move(writer_ids)) {}

  // The record written. Errc::precondition_failed when the precondition fails,
  // Errc::conflict when the tag kept changing under us (retry), Errc::not_found
  // deleting a tag that does not exist,
  // Errc::no_quorum when fewer than `quorum` owners answered or accepted.
  Result<TagRecord> write(std::string_view name, const TagChange& change,
                          const std::vector<TagReplica*>& owners, size_t quorum);
  // The newest record of the owners that answered (laggards among them are repaired);
  // Errc::no_quorum when none did.
  Result<TagRecord> read(std::string_view name, const std::vector<TagReplica*>& owners);

 private:
  struct Copy {
    TagReplica* owner;
    TagRecord rec;
  };
  enum class Outcome { written, lost_race, too_few };
  struct Offered {
    Outcome outcome;
    size_t took;  // owners that hold the offered record
  };
  std::vector<Copy> read_all(std::string_view name, const std::vector<TagReplica*>& owners);
  static void repair(std::string_view name, std::vector<Copy>& copies, const TagRecord& to);
  Offered offer(std::string_view name, std::vector<Copy>& copies, const TagRecord& next,
                const TagRecord& base, size_t quorum);
  std::mutex& stripe(std::string_view name);

  std::function<uint64_t()> writer_ids_;
  // Writers of one name through this origin wait for each other (names share stripes).
  std::array<std::mutex, 64> stripes_;
};

}  // namespace shoal::origin
