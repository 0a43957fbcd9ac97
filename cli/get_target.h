// What `shoal get URL` asks for: the server (a base Url, as every client takes) and
// the path, plus the digest the path promises, if it names one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"
#include "core/url.h"

namespace shoal::cli::get {

struct Target {
  Url base;
  std::string path;  // from the first '/', with the query if any; "/" at least
};

// Url only takes base URLs; `shoal get` takes a full one, so the path is cut off
// first and a fragment (never sent) dropped.
Result<Target> split_url(std::string_view text);

// The digest a path names as its last segment (/blobs/<d>, /v2/<name>/blobs/<d>):
// what the bytes must hash to. /blobs/<d>/metainfo names a different document.
std::optional<Digest> digest_in_path(std::string_view path);

}  // namespace shoal::cli::get
