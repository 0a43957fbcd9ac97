// Pushed manifests are JSON from clients. The first byte ('0' to '4') picks the
// Content-Type they came with, the rest is the body.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/oci/oci.h"
#include "core/oci/manifest.h"

namespace {

using namespace shoal::oci;

constexpr std::array<std::string_view, 5> kContentTypes{"", kOciManifest, kOciIndex,
                                                        kDockerManifest, kDockerList};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view content_type =
      kContentTypes[static_cast<uint8_t>(data[0] - '0') % kContentTypes.size()];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string served = manifest_media_type(body);
  auto m = parse_manifest(body, content_type);
  if (!m) return 0;
  const bool index_type = m->media_type == kOciIndex || m->media_type == kDockerList;
  if (m->index != index_type) std::abort();
  if (m->index ? !m->blobs.empty() : (m->blobs.empty() || !m->manifests.empty())) std::abort();
  if (!m->index && m->media_type != kOciManifest && m->media_type != kDockerManifest) std::abort();
  // Without a Content-Type, what is served is what was accepted.
  if (content_type.empty() && served != m->media_type) std::abort();
  return 0;
}
