#include "cli/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>

namespace shoal::cli {
namespace {

// The temporary's name for the signal handler: plain storage, since only
// async-signal-safe code may touch it.
char g_temp_path[4096];
volatile std::sig_atomic_t g_temp_armed = 0;

void on_fatal_signal(int sig) {
  if (g_temp_armed) ::unlink(g_temp_path);
  std::signal(sig, SIG_DFL);
  std::raise(sig);  // die of the same signal so the shell sees the usual status
}

std::string directory_of(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

bool rewind_output(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_APPEND) || ::lseek(fd, 0, SEEK_SET) != 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  return !S_ISREG(st.st_mode) || ::ftruncate(fd, 0) == 0;
}

void remove_output_on_signal() {
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    ::sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // e.g. SIGINT of a background job: stay immune
    ::sigaction(sig, &sa, nullptr);
  }
}

OutputFile::~OutputFile() {
  g_temp_armed = 0;
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

Result<void> OutputFile::create(const std::string& final_path, const std::string& temp_path,
                                bool exclusive) {
  final_ = final_path;
  struct stat st {};
  if (::stat(final_path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    direct_ = true;
    fd_ = UniqueFd(::open(final_path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd_.valid()) return errno_error(errno, "open " + final_path);
    return {};
  }
  temp_ = temp_path;
  if (temp_.size() >= sizeof g_temp_path) return Error(Errc::bad_request, "output path too long");
  std::memcpy(g_temp_path, temp_.c_str(), temp_.size() + 1);
  g_temp_armed = 1;  // armed before the file exists: unlinking nothing is harmless
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
  fd_ = UniqueFd(::open(temp_.c_str(), flags, 0666));
  if (!fd_.valid()) return errno_error(errno, "create " + temp_);
  return {};
}

Result<void> OutputFile::commit() {
  if (direct_) {
    committed_ = true;
    fd_.reset();
    return {};
  }
  if (auto ok = fsync_fd(fd_.get(), temp_); !ok) return ok;
  fd_.reset();
  if (::rename(temp_.c_str(), final_.c_str()) != 0)
    return errno_error(errno, "rename to " + final_);
  committed_ = true;
  g_temp_armed = 0;
  return fsync_dir(directory_of(final_));
}

}  // namespace shoal::cli
