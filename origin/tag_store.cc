#include "origin/tag_store.h"

#include <unistd.h>

#include <cerrno>

#include "core/file_io.h"
#include "core/text.h"
#include "origin/names.h"

namespace shoal::origin {
namespace {

constexpr std::string_view kTombstone = "-";

// "<digest or ->\n<name>\n<version> <writer>\n". The name is kept so tags can be listed
// later; files from before versions have only the first two lines.
std::string serialize(std::string_view name, const TagRecord& rec) {
  std::string first = rec.digest ? rec.digest->str() : std::string(kTombstone);
  return first + "\n" + std::string(name) + "\n" + std::to_string(rec.stamp.version) + " " +
         std::to_string(rec.stamp.writer) + "\n";
}

Result<TagRecord> parse(std::string_view text) {
  auto line = [&text]() {
    size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    return l;
  };
  std::string_view first = line();
  line();  // the name
  std::string_view stamp = text::trim_space(line());
  TagRecord rec;
  rec.stamp = {1, 0};
  if (!stamp.empty()) {
    size_t sp = stamp.find(' ');
    auto version = text::parse_uint<uint64_t>(stamp.substr(0, sp));
    auto writer = text::parse_uint<uint64_t>(
        sp == std::string_view::npos ? "0" : stamp.substr(sp + 1));
    if (!version || !writer) return Error(Errc::io_error, "corrupt tag file: bad version line");
    rec.stamp = {*version, *writer};
  }
  if (first == kTombstone) return rec;
  auto d = Digest::parse(first);
  if (!d) return Error(Errc::io_error, "corrupt tag file: " + d.error().message);
  rec.digest = *d;
  return rec;
}

}  // namespace

Result<TagPrecondition> TagPrecondition::parse(std::string_view if_match,
                                               std::string_view if_none_match) {
  TagPrecondition p;
  if_match = text::trim(if_match);
  if (if_match == "*") {
    p.if_match_any = true;
  } else if (!if_match.empty()) {
    // Strong comparison only (RFC 9110 13.1.1): a tag names exactly one digest.
    if (if_match.size() < 2 || if_match.front() != '"' || if_match.back() != '"') {
      return Error(Errc::bad_request,
                   "If-Match takes one quoted digest (If-Match: \"sha256:...\") or *");
    }
    auto d = Digest::parse(if_match.substr(1, if_match.size() - 2));
    if (!d) return Error(Errc::bad_request, "If-Match: " + d.error().message);
    p.if_match = *d;
  }
  if_none_match = text::trim(if_none_match);
  if (if_none_match == "*") {
    p.if_none_match_any = true;
  } else if (!if_none_match.empty()) {
    return Error(Errc::bad_request, "If-None-Match on a tag write takes only * (create only)");
  }
  return p;
}

bool TagPrecondition::holds(const TagRecord& current) const {
  if (if_none_match_any && current.exists()) return false;
  if (if_match_any && !current.exists()) return false;
  return !if_match || current.digest == if_match;
}

std::string TagPrecondition::why_not(std::string_view name, const TagRecord& current) const {
  const std::string tag = "tag \"" + std::string(name) + "\"";
  if (!current.exists()) return tag + " does not exist, and If-Match asks that it does";
  const std::string now = tag + " points at " + current.digest->str();
  if (if_none_match_any) return now + ", and If-None-Match: * asks that it does not exist";
  return now + ", not at " + (if_match ? if_match->str() : "*") + " as If-Match asks";
}

Result<void> TagStore::init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Error(Errc::io_error, "creating " + dir_.string() + ": " + ec.message());
  // Temporaries of tag writes interrupted by a crash.
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (entry.path().filename().string().starts_with(".tmp-"))
      std::filesystem::remove(entry.path(), ec);
  }
  return {};
}

Result<std::string> TagStore::path_for(std::string_view name) const {
  if (!valid_tag_name(name)) {
    return Error(Errc::bad_request, "tag name \"" + std::string(name) + "\" is not valid");
  }
  return (dir_ / tag_file_name(name)).string();
}

Result<TagRecord> TagStore::read(std::string_view name) const {
  auto path = path_for(name);
  if (!path) return path.error();
  auto text = read_small_file(*path, 1024);
  if (!text) {
    if (::access(path->c_str(), F_OK) != 0) return TagRecord{};
    return text.error();
  }
  return parse(*text);
}

Result<Digest> TagStore::get(std::string_view name) const {
  auto rec = read(name);
  if (!rec) return rec.error();
  if (!rec->digest) return Error(Errc::not_found, "no tag \"" + std::string(name) + "\"");
  return *rec->digest;
}

std::vector<Digest> TagStore::targets() const {
  std::vector<Digest> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().filename().string().starts_with(".tmp-")) continue;
    auto text = read_small_file(it->path().string(), 1024);
    auto rec = text ? parse(*text) : Result<TagRecord>(text.error());
    if (rec && rec->digest) out.push_back(*rec->digest);
  }
  return out;
}

Result<TagApplied> TagStore::apply(std::string_view name, const TagRecord& rec,
                                   TagVersion expect, bool keep_tombstone) {
  auto path = path_for(name);
  if (!path) return path.error();
  std::lock_guard lock(mu_);
  auto current = read(name);
  if (!current) return current.error();
  if (current->stamp != expect) return TagApplied{false, *current};
  if (!rec.digest && !keep_tombstone) {
    if (auto ok = remove_file(*path); !ok) return ok.error();
    return TagApplied{true, TagRecord{}};
  }
  if (auto ok = write_file_atomic(*path, serialize(name, rec)); !ok) return ok.error();
  return TagApplied{true, rec};
}

Result<void> TagStore::remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_error(errno, "removing tag");
  return fsync_dir(dir_.string());
}

}  // namespace shoal::origin
