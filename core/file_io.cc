#include "core/file_io.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "core/digest.h"

namespace shoal {

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<void> write_all(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(errno, "writing to disk");
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return {};
}

Result<size_t> pread_some(int fd, void* data, size_t len, uint64_t offset) {
  for (;;) {
    ssize_t n = ::pread(fd, data, len, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return errno_error(errno, "reading from disk");
  }
}

Result<void> fsync_fd(int fd, const std::string& what) {
  if (::fsync(fd) != 0) return errno_error(errno, "fsync " + what);
  return {};
}

Result<void> fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "opening directory " + dir);
  return fsync_fd(fd.get(), dir);
}

Result<uint64_t> file_size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_error(errno, "fstat");
  return static_cast<uint64_t>(st.st_size);
}

Result<void> write_file_atomic(const std::string& path, const std::string& contents) {
  std::filesystem::path target(path);
  // Short and fixed-length, so a long target name cannot push it past NAME_MAX.
  std::string tmp = (target.parent_path() / (".tmp-" + random_hex(8))).string();
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return errno_error(errno, "creating " + tmp);
  auto ok = write_all(fd.get(), contents.data(), contents.size());
  if (ok) ok = fsync_fd(fd.get(), tmp);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0)
    ok = errno_error(errno, "renaming to " + path);
  if (!ok) {
    ::unlink(tmp.c_str());
    return ok;
  }
  return fsync_dir(target.parent_path().string());
}

Result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "opening " + path);
  std::string out(max_bytes + 1, '\0');
  size_t got = 0;
  while (got < out.size()) {
    auto n = pread_some(fd.get(), out.data() + got, out.size() - got, got);
    if (!n) return n.error();
    if (*n == 0) break;
    got += *n;
  }
  if (got > max_bytes) return Error(Errc::too_large, path + " is larger than expected");
  out.resize(got);
  return out;
}

std::string random_hex(size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    // OpenSSL's CSPRNG failing means the process cannot make safe ids at all.
    std::abort();
  }
  return to_hex(raw.data(), raw.size());
}

}  // namespace shoal
