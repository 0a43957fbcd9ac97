// Reading the JSON of the four manifest kinds a registry accepts (OCI image manifest
// and index, Docker schema 2 manifest and manifest list): what a push must check
// (every referenced blob or manifest present) and how to serve one (its media type).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace shoal::oci {

struct Manifest {
  std::string media_type;
  bool index = false;             // an OCI index or a Docker manifest list
  std::vector<Digest> blobs;      // config and layers that must be in the registry
  std::vector<Digest> manifests;  // the manifests an index lists
  // Layers with "urls" and a non-distributable media type live elsewhere by design.
  std::vector<Digest> foreign;
  std::optional<Digest> subject;  // OCI 1.1: the manifest this one refers to
};

// Checks a pushed manifest: JSON, schemaVersion 2, a supported media type that agrees
// with the Content-Type it came with (parameters ignored), descriptors with valid
// digests and sizes. Errc::bad_request with the reason otherwise.
Result<Manifest> parse_manifest(std::string_view body, std::string_view content_type);

// The media type to serve a stored manifest with: its "mediaType" field, or what its
// shape says for OCI documents that leave the field out; "" for non-manifests.
std::string manifest_media_type(std::string_view body);

}  // namespace shoal::oci
