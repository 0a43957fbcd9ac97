#include "core/oci/manifest.h"

#include <nlohmann/json.hpp>

#include "core/oci/oci.h"

namespace shoal::oci {
namespace {

using nlohmann::json;

Error invalid(std::string why) { return Error(Errc::bad_request, std::move(why)); }

bool supported(std::string_view type) {
  return type == kOciManifest || type == kOciIndex || type == kDockerManifest ||
         type == kDockerList;
}

bool is_index_type(std::string_view type) { return type == kOciIndex || type == kDockerList; }

std::string_view without_parameters(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return t;
}

// The documents an OCI client may send without "mediaType" (allowed before 1.1).
std::string shape_type(const json& doc) {
  if (doc.contains("manifests")) return std::string(kOciIndex);
  if (doc.contains("config") && doc.contains("layers")) return std::string(kOciManifest);
  return "";
}

std::string declared_type(const json& doc) {
  auto it = doc.find("mediaType");
  if (it == doc.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

bool foreign_layer(const json& desc) {
  if (!desc.contains("urls")) return false;
  std::string type = declared_type(desc);
  return type.find("foreign") != std::string::npos ||
         type.find("nondistributable") != std::string::npos;
}

Result<Digest> descriptor_digest(const json& desc, std::string_view where) {
  if (!desc.is_object()) return invalid(std::string(where) + " is not a descriptor object");
  auto digest = desc.find("digest");
  auto size = desc.find("size");
  if (digest == desc.end() || !digest->is_string())
    return invalid(std::string(where) + " has no digest");
  if (size == desc.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
    return invalid(std::string(where) + " has no valid size");
  auto d = Digest::parse(digest->get<std::string>());
  if (!d) return invalid(std::string(where) + ": " + d.error().message);
  return *d;
}

Result<void> read_image(const json& doc, Manifest& m) {
  auto config = doc.find("config");
  auto layers = doc.find("layers");
  if (config == doc.end()) return invalid("an image manifest needs a config descriptor");
  if (layers == doc.end() || !layers->is_array()) return invalid("an image manifest needs layers");
  auto c = descriptor_digest(*config, "config");
  if (!c) return c.error();
  m.blobs.push_back(*c);
  for (size_t i = 0; i < layers->size(); ++i) {
    auto l = descriptor_digest((*layers)[i], "layer " + std::to_string(i));
    if (!l) return l.error();
    (foreign_layer((*layers)[i]) ? m.foreign : m.blobs).push_back(*l);
  }
  return {};
}

Result<void> read_index(const json& doc, Manifest& m) {
  auto list = doc.find("manifests");
  if (list == doc.end() || !list->is_array()) return invalid("an index needs a manifests array");
  for (size_t i = 0; i < list->size(); ++i) {
    auto d = descriptor_digest((*list)[i], "manifest " + std::to_string(i));
    if (!d) return d.error();
    m.manifests.push_back(*d);
  }
  return {};
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view body, std::string_view content_type) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return invalid("the manifest is not a JSON object");
  auto version = doc.find("schemaVersion");
  if (version == doc.end() || !version->is_number_integer() || version->get<int64_t>() != 2)
    return invalid("only schemaVersion 2 manifests are accepted");

  Manifest m;
  std::string declared = declared_type(doc);
  std::string_view sent = without_parameters(content_type);
  if (!declared.empty() && !sent.empty() && declared != sent) {
    return invalid("Content-Type " + std::string(sent) +
                   " does not match the manifest's mediaType " + declared);
  }
  // Docker's schema 2 always names itself; a type only the header gives must be an
  // OCI one, or the manifest would later be served (by its shape) as something else.
  if (declared.empty() && (sent == kDockerManifest || sent == kDockerList)) {
    return invalid("a Docker schema 2 manifest must carry its mediaType");
  }
  m.media_type = !declared.empty() ? declared : !sent.empty() ? std::string(sent) : shape_type(doc);
  if (!supported(m.media_type)) {
    return invalid("unsupported manifest media type \"" + m.media_type + "\"");
  }
  m.index = is_index_type(m.media_type);
  auto read = m.index ? read_index(doc, m) : read_image(doc, m);
  if (!read) return read.error();
  if (auto subject = doc.find("subject"); subject != doc.end()) {
    auto d = descriptor_digest(*subject, "subject");
    if (!d) return d.error();
    m.subject = *d;
  }
  return m;
}

std::string manifest_media_type(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return "";
  std::string declared = declared_type(doc);
  return declared.empty() ? shape_type(doc) : declared;
}

}  // namespace shoal::oci
