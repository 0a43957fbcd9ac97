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
  return write_file_atomic(*path, digest.str() + "\n");
}

Result<Digest> TagStore::get(std::string_view name) const {
  auto path = path_for(name);
  if (!path) return path.error();
  auto text = read_small_file(*path, 128);
  if (!text) {
    if (::access(path->c_str(), F_OK) != 0) {
      return Error(Errc::not_found, "no tag \"" + std::string(name) + "\"");
    }
    return text.error();
  }
  std::string_view v = *text;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  return Digest::parse(v);
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
