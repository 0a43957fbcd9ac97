#include "origin/referrers.h"

#include <set>

#include "core/oci/manifest.h"
#include "core/oci/oci.h"

namespace shoal::origin {

using nlohmann::json;

std::optional<json> referrer_descriptor(const Digest& d, std::string_view bytes) {
  json doc = json::parse(bytes, nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  json desc = {{"mediaType", oci::manifest_media_type(bytes)},
               {"digest", d.str()},
               {"size", bytes.size()}};
  if (auto a = doc.find("artifactType"); a != doc.end() && a->is_string()) {
    desc["artifactType"] = *a;
  } else if (auto c = doc.find("config"); c != doc.end() && c->is_object() &&
                                          c->contains("mediaType") && (*c)["mediaType"].is_string()) {
    desc["artifactType"] = (*c)["mediaType"];
  }
  if (auto a = doc.find("annotations"); a != doc.end() && a->is_object()) desc["annotations"] = *a;
  return desc;
}

std::string referrers_index(const json& descriptors,
                            const std::optional<std::string>& artifact_type) {
  json manifests = json::array();
  std::set<std::string> seen;
  for (const json& desc : descriptors) {
    if (!desc.is_object() || !desc.contains("digest") || !desc["digest"].is_string()) continue;
    if (artifact_type && desc.value("artifactType", std::string()) != *artifact_type) continue;
    if (!seen.insert(desc["digest"].get<std::string>()).second) continue;
    manifests.push_back(desc);
  }
  return json{{"schemaVersion", 2},
              {"mediaType", std::string(oci::kOciIndex)},
              {"manifests", manifests}}
      .dump();
}

}  // namespace shoal::origin
