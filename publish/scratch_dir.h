// Where ffmpeg writes before the segments are uploaded: a private directory under
// $TMPDIR (else /tmp), removed with everything in it.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"

namespace shoal::publish {

class ScratchDir {
 public:
  static Result<ScratchDir> create(std::string_view prefix);
  ScratchDir(ScratchDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace shoal::publish
