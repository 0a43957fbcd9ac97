// Mutable names pointing at digests, one small file per tag under <data>/tags/.
// Writes are atomic and durable (temporary file, fsync, rename, fsync directory).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"

namespace shoal::origin {

class TagStore {
 public:
  explicit TagStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<void> init();  // creates the directory

  // Errc::bad_request for a name outside the grammar.
  Result<void> put(std::string_view name, const Digest& digest);
  Result<Digest> get(std::string_view name) const;  // Errc::not_found if absent
  Result<void> remove(std::string_view name);

 private:
  Result<std::string> path_for(std::string_view name) const;
  std::filesystem::path dir_;
};

}  // namespace shoal::origin
