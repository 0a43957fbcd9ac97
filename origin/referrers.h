// OCI 1.1 referrers: the image index GET /v2/<name>/referrers/<digest> answers, made
// from the manifests whose subject is <digest>. Pure functions over manifest bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/digest.h"

namespace shoal::origin {

// The descriptor of manifest `d` (its bytes): mediaType, digest, size, artifactType
// (the manifest's, else its config's media type) and annotations. nullopt when the
// bytes are no JSON object.
std::optional<nlohmann::json> referrer_descriptor(const Digest& d, std::string_view bytes);

// The index of `descriptors` (a JSON array), keeping those of `artifact_type` only
// when one is given; the same digest listed twice (two origins' answers) once.
std::string referrers_index(const nlohmann::json& descriptors,
                            const std::optional<std::string>& artifact_type);

}  // namespace shoal::origin
