// Tag names and upload ids become file names: a valid one must stay inside its directory.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "origin/names.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view name(reinterpret_cast<const char*>(data), size);
  if (shoal::origin::valid_tag_name(name)) {
    if (name.find("..") == 0 || name.find("/..") != std::string_view::npos ||
        name.find("//") != std::string_view::npos || name.front() == '/') {
      std::abort();
    }
    if (shoal::origin::tag_file_name(name).find('/') != std::string::npos) std::abort();
  }
  if (shoal::origin::valid_upload_id(name) && name.find('/') != std::string_view::npos)
    std::abort();
  return 0;
}
