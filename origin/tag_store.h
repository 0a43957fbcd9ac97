// Mutable names pointing at digests, one small file per tag under <data>/tags/.
// Writes are atomic and durable (temporary file, fsync, rename, fsync directory).
//
// Each tag carries a version so the copies of a tag on the origins of a ring can be
// ordered (ring_tags.h): a write makes version+1, stamped with a random writer id that
// tells apart two writes that raced to the same version. Deleting a tag in a ring
// leaves a tombstone (no digest, version kept), so a stale copy elsewhere can never
// bring an old value back.
#pragma once

#include <compare>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace shoal::origin {

// Which write a copy holds: ordered by version, then writer.
struct TagVersion {
  uint64_t version = 0;  // 0: the tag never existed here
  uint64_t writer = 0;   // 0 for files written before versions existed
  auto operator<=>(const TagVersion&) const = default;
};

struct TagRecord {
  std::optional<Digest> digest;  // nullopt: absent (version 0) or a tombstone
  TagVersion stamp;
  bool exists() const { return digest.has_value(); }
  bool operator==(const TagRecord&) const = default;
};

// What a compare-and-swap did: whether it wrote, and the record held afterwards.
struct TagApplied {
  bool applied = false;
  TagRecord current;
};

// The conditions of a tag write: If-Match ("<digest>" or *) and If-None-Match: *.
struct TagPrecondition {
  std::optional<Digest> if_match;
  bool if_match_any = false;       // If-Match: *: the tag must exist
  bool if_none_match_any = false;  // If-None-Match: *: create only

  // From the request's header values ("" when absent). Errc::bad_request for anything
  // but one strong entity tag naming a digest, or *.
  static Result<TagPrecondition> parse(std::string_view if_match, std::string_view if_none_match);
  bool holds(const TagRecord& current) const;
  // Why it does not hold against `current`, for the 412 message.
  std::string why_not(std::string_view name, const TagRecord& current) const;
};

// What a client asked for: a new digest (nullopt: delete) under a precondition.
struct TagChange {
  std::optional<Digest> digest;
  TagPrecondition precondition;
};

class TagStore {
 public:
  explicit TagStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<void> init();  // creates the directory

  // The stored record; version 0 when the tag was never written here. Files written
  // before versions existed read as version 1. Errc::bad_request for a bad name.
  Result<TagRecord> read(std::string_view name) const;
  // Errc::not_found if absent or deleted.
  Result<Digest> get(std::string_view name) const;
  // Compare-and-swap: stores `rec` only if the stored stamp is `expect`. A deleting
  // `rec` with keep_tombstone false removes the file (a ring of one has no stale copy
  // to fear).
  Result<TagApplied> apply(std::string_view name, const TagRecord& rec, TagVersion expect,
                          bool keep_tombstone = true);
  // What every tag held here points at (tombstones skipped): garbage collection's roots.
  std::vector<Digest> targets() const;

 private:
  Result<std::string> path_for(std::string_view name) const;
  Result<void> remove_file(const std::string& path);
  std::filesystem::path dir_;
  // Makes each apply's read-compare-write one step: coordinators of several
  // requests (and of other origins) reach the same replica at once.
  mutable std::mutex mu_;
};

}  // namespace shoal::origin
