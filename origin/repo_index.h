// What the OCI registry knows beyond blobs and tags: which repositories exist, which
// manifests were pushed to each, and each repository's tag names in order (the
// TagStore, keyed by "<name>:<tag>", holds what a tag points to).
// Layout under <data>/repositories/, one directory per repository name (valid OCI
// names are safe relative paths: no component can be "." or ".."):
//   <name>/_manifests/<64 hex>   empty marker: this manifest was pushed to <name>
//   <name>/_tags/<tag>           empty marker: <name>:<tag> exists
//   <name>/_referrers/<subject hex>/<manifest hex>
//                                empty marker: manifest (in <name>) has that subject
// Components of names start with [a-z0-9], so "_manifests" cannot clash with one.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace shoal::origin {

class RepoIndex {
 public:
  explicit RepoIndex(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<void> init();

  // The callers validate names and tags against the OCI grammar first.
  bool exists(std::string_view name) const;
  bool has_manifest(std::string_view name, const Digest& d) const;
  Result<void> add_manifest(std::string_view name, const Digest& d);
  Result<void> add_tag(std::string_view name, std::string_view tag);
  Result<void> remove_tag(std::string_view name, std::string_view tag);
  // Errc::not_found when the manifest was not in the repository.
  Result<void> remove_manifest(std::string_view name, const Digest& d);
  // Every manifest pushed to the repository.
  std::vector<Digest> manifests(std::string_view name) const;
  // Every repository with a manifest (the roots a garbage collection starts from).
  std::vector<std::string> names() const;

  // OCI 1.1 referrers: `manifest` in `name` has `subject` as its subject.
  Result<void> add_referrer(std::string_view name, const Digest& subject, const Digest& manifest);
  Result<void> remove_referrer(std::string_view name, const Digest& subject,
                               const Digest& manifest);
  std::vector<Digest> referrers(std::string_view name, const Digest& subject) const;

  struct TagPage {
    std::vector<std::string> tags;
    bool more = false;  // tags after the last one returned
  };
  // Tags in lexical order after `last` (all when empty), at most `limit`.
  TagPage tags(std::string_view name, std::string_view last, size_t limit) const;

 private:
  std::filesystem::path repo(std::string_view name) const { return dir_ / std::string(name); }
  Result<void> mark(const std::filesystem::path& dir, const std::string& file);
  // Errc::not_found with `absent` as the message when there was no marker.
  static Result<void> remove_marker(const std::filesystem::path& dir, const std::string& file,
                                    const std::string& absent);
  static std::vector<Digest> digests_in(const std::filesystem::path& dir);
  std::filesystem::path dir_;
};

}  // namespace shoal::origin
