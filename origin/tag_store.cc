#include "origin/tag_store.h"

#include <unistd.h>

#include <cerrno>

#include "core/file_io.h"
#include "origin/names.h"

namespace shoal::origin {

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

Result<void> TagStore::put(std::string_view name, const Digest& digest) {
  auto path = path_for(name);
  if (!path) return path.error();
  // The name is kept beside the digest so tags can be listed later.
  return write_file_atomic(*path, digest.str() + "\n" + std::string(name) + "\n");
}

Result<Digest> TagStore::get(std::string_view name) const {
  auto path = path_for(name);
  if (!path) return path.error();
  auto text = read_small_file(*path, 512);
  if (!text) {
    if (::access(path->c_str(), F_OK) != 0) {
      return Error(Errc::not_found, "no tag \"" + std::string(name) + "\"");
    }
    return text.error();
  }
  std::string_view v = *text;
  return Digest::parse(v.substr(0, v.find('\n')));
}

Result<void> TagStore::remove(std::string_view name) {
  auto path = path_for(name);
  if (!path) return path.error();
  if (::unlink(path->c_str()) != 0) {
    if (errno == ENOENT) return Error(Errc::not_found, "no tag \"" + std::string(name) + "\"");
    return errno_error(errno, "removing tag");
  }
  return fsync_dir(dir_.string());
}

}  // namespace shoal::origin
