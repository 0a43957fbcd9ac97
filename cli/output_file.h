// A download's output file: the bytes go to a temporary name beside FILE, renamed to
// FILE only by commit(), so a failed, corrupt or killed download leaves nothing under
// FILE. Shared by `shoal pull` and `shoal get`.
#pragma once

#include <string>

#include "core/error.h"
#include "core/file_io.h"

namespace shoal::cli {

class OutputFile {
 public:
  OutputFile() = default;
  ~OutputFile();  // removes the temporary unless committed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Creates `temp_path` (in FILE's directory); `exclusive`: fail if it exists. When
  // FILE exists and is not a regular file (/dev/null, a FIFO, a terminal), the bytes
  // go straight to it: renaming over a device would replace the device.
  Result<void> create(const std::string& final_path, const std::string& temp_path, bool exclusive);
  int fd() const { return fd_.get(); }
  // fsync, rename over FILE, fsync the directory.
  Result<void> commit();

 private:
  std::string final_, temp_;
  UniqueFd fd_;
  bool committed_ = false;
  bool direct_ = false;  // writing into FILE itself (not a regular file)
};

// Readies fd for a second copy of a download that failed part-way (another origin
// will send it from the first byte): back to offset 0 and, for a file, truncated.
// False when that cannot be done: a pipe, a terminal, a file opened for appending.
bool rewind_output(int fd);

// SIGINT, SIGTERM and SIGHUP remove the temporary of the OutputFile being written,
// then the process dies of the same signal. Signals the shell ignores stay ignored.
void remove_output_on_signal();

}  // namespace shoal::cli
