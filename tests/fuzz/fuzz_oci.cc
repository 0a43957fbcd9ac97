// Registry paths, names and tags come from clients; error messages may quote them.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/oci/oci.h"

namespace {

using shoal::oci::Endpoint;

// The path a route was split from, put back together.
std::string rebuild(const shoal::oci::Route& r, std::string_view path) {
  const std::string name = "/v2/" + std::string(r.name);
  const std::string arg(r.arg);
  switch (r.endpoint) {
    case Endpoint::base: return std::string(path == "/v2" ? "/v2" : "/v2/");
    case Endpoint::manifest: return name + "/manifests/" + arg;
    case Endpoint::blob: return name + "/blobs/" + arg;
    case Endpoint::upload_new:
      return name + (path.ends_with('/') ? "/blobs/uploads/" : "/blobs/uploads");
    case Endpoint::upload: return name + "/blobs/uploads/" + arg;
    case Endpoint::tags: return name + "/tags/list";
    case Endpoint::referrers: return name + "/referrers/" + arg;
  }
  std::abort();
}

bool has_arg(Endpoint e) {
  return e == Endpoint::manifest || e == Endpoint::blob || e == Endpoint::upload ||
         e == Endpoint::referrers;
}

void check_route(std::string_view path) {
  auto r = shoal::oci::parse_route(path);
  if (!r) return;
  if (rebuild(*r, path) != path) std::abort();
  if (r->endpoint != Endpoint::base && r->name.empty()) std::abort();
  if (has_arg(r->endpoint) && (r->arg.empty() || r->arg.find('/') != std::string_view::npos))
    std::abort();
}

// A valid name is a safe relative path.
void check_name(std::string_view name) {
  if (!shoal::oci::valid_name(name)) return;
  if (name.size() > 255 || name.front() == '/' || name.back() == '/') std::abort();
  if (name.find("//") != std::string_view::npos || name.find("..") != std::string_view::npos)
    std::abort();
  if (name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-/") != std::string_view::npos)
    std::abort();
  if (name.front() == '.' || name.find("/.") != std::string_view::npos) std::abort();
}

void check_tag(std::string_view tag) {
  if (!shoal::oci::valid_tag(tag)) return;
  if (tag.size() > 128 || tag.find_first_of("/:@") != std::string_view::npos) std::abort();
}

bool ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Codes are Shoal's own constants; the message is anything and must come back intact.
void check_error(std::string_view message) {
  std::string doc = shoal::oci::error_json("MANIFEST_INVALID", message);
  if (!ascii(message)) return;  // raw bytes pass through; JSON wants UTF-8
  auto parsed = nlohmann::json::parse(doc, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || parsed["errors"][0]["message"] != message) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_route(text);
  check_name(text);
  check_tag(text);
  check_error(text);
  size_t nl = text.find('\n');
  if (nl != std::string_view::npos)
    (void)shoal::oci::error_json(text.substr(0, nl), text.substr(nl + 1));
  return 0;
}
