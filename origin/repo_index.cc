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
  std::error_code ec;
  fs::path dir = repo(name) / "_tags";
  if (!fs::remove(dir / std::string(tag), ec)) {
    if (ec) return Error(Errc::io_error, "cannot remove tag: " + ec.message());
    return Error(Errc::not_found, "no tag " + std::string(tag) + " in " + std::string(name));
  }
  return fsync_dir(dir.string());
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
