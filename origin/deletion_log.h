// The digests this origin deleted, in order, so that peer agents can drop them from
// their caches: an agent polls GET /deletions?since=N and remembers where it stopped.
// Append-only, one digest a line in <data>/deletions; an entry's sequence number is its
// line number (from 0). Kept whole in memory: 72 bytes a deleted blob.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace shoal::origin {

class DeletionLog {
 public:
  // Reads the log (a torn last line from a crash is dropped); throws
  // std::runtime_error at start-up when it cannot be read.
  explicit DeletionLog(std::filesystem::path file);

  // Durable (fsynced) before it returns.
  Result<void> append(const std::vector<Digest>& removed);

  struct Page {
    std::vector<Digest> digests;
    uint64_t next = 0;  // the `since` of the following poll
  };
  // Entries from sequence number `since` on, at most `limit`.
  Page since(uint64_t since, size_t limit) const;
  uint64_t size() const;

 private:
  std::filesystem::path file_;
  mutable std::mutex mu_;
  std::vector<Digest> entries_;
};

}  // namespace shoal::origin
