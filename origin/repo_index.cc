#include "origin/repo_index.h"

#include <algorithm>

#include "core/file_io.h"

namespace shoal::origin {
namespace fs = std::filesystem;

Result<void> RepoIndex::init() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Error(Errc::io_error, "cannot create " + dir_.string() + ": " + ec.message());
  return {};
}

// Pushing to "a/b" creates the directory "a" too: a repository is a directory with
// markers of its own.
bool RepoIndex::exists(std::string_view name) const {
  std::error_code ec;
  return fs::is_directory(repo(name) / "_manifests", ec) ||
         fs::is_directory(repo(name) / "_tags", ec);
}

bool RepoIndex::has_manifest(std::string_view name, const Digest& d) const {
  std::error_code ec;
  return fs::exists(repo(name) / "_manifests" / d.hex(), ec);
}

// Markers are empty files: creating one durably is all there is to write.
Result<void> RepoIndex::mark(const fs::path& dir, const std::string& file) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return Error(errc_from_errno(ec.value()),
                 "cannot create " + dir.string() + ": " + ec.message());
  return write_file_atomic((dir / file).string(), "");
}

Result<void> RepoIndex::add_manifest(std::string_view name, const Digest& d) {
  return mark(repo(name) / "_manifests", d.hex());
}

Result<void> RepoIndex::add_tag(std::string_view name, std::string_view tag) {
  return mark(repo(name) / "_tags", std::string(tag));
}

Result<void> RepoIndex::remove_tag(std::string_view name, std::string_view tag) {
  return remove_marker(repo(name) / "_tags", std::string(tag),
                       "no tag " + std::string(tag) + " in " + std::string(name));
}

Result<void> RepoIndex::remove_manifest(std::string_view name, const Digest& d) {
  return remove_marker(repo(name) / "_manifests", d.hex(), "no manifest " + d.str());
}

Result<void> RepoIndex::remove_marker(const fs::path& dir, const std::string& file,
                                      const std::string& absent) {
  std::error_code ec;
  if (!fs::remove(dir / file, ec)) {
    if (ec) return Error(Errc::io_error, "cannot remove " + (dir / file).string() + ": " +
                                             ec.message());
    return Error(Errc::not_found, absent);
  }
  return fsync_dir(dir.string());
}

std::vector<Digest> RepoIndex::manifests(std::string_view name) const {
  return digests_in(repo(name) / "_manifests");
}

std::vector<Digest> RepoIndex::digests_in(const fs::path& dir) {
  std::vector<Digest> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto d = Digest::parse(std::string(Digest::kPrefix) + it->path().filename().string());
    if (d) out.push_back(*d);  // skips write_file_atomic's temporaries
  }
  return out;
}

std::vector<std::string> RepoIndex::names() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string leaf = it->path().filename().string();
    if (!leaf.starts_with('_')) continue;
    // Markers are no repositories: "_manifests" names its parent one, the rest none.
    if (leaf == "_manifests") out.push_back(it->path().parent_path().lexically_relative(dir_).string());
    it.disable_recursion_pending();
  }
  return out;
}

Result<void> RepoIndex::add_referrer(std::string_view name, const Digest& subject,
                                     const Digest& manifest) {
  return mark(repo(name) / "_referrers" / subject.hex(), manifest.hex());
}

Result<void> RepoIndex::remove_referrer(std::string_view name, const Digest& subject,
                                        const Digest& manifest) {
  return remove_marker(repo(name) / "_referrers" / subject.hex(), manifest.hex(),
                       "no referrer " + manifest.str());
}

std::vector<Digest> RepoIndex::referrers(std::string_view name, const Digest& subject) const {
  return digests_in(repo(name) / "_referrers" / subject.hex());
}

RepoIndex::TagPage RepoIndex::tags(std::string_view name, std::string_view last,
                                   size_t limit) const {
  std::vector<std::string> all;
  std::error_code ec;
  for (fs::directory_iterator it(repo(name) / "_tags", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string tag = it->path().filename().string();
    // write_file_atomic's temporaries start with '.', which no tag can.
    if (!tag.starts_with('.') && (last.empty() || tag > last)) all.push_back(std::move(tag));
  }
  std::sort(all.begin(), all.end());
  TagPage page;
  page.more = all.size() > limit;
  if (page.more) all.resize(limit);
  page.tags = std::move(all);
  return page;
}

}  // namespace shoal::origin
