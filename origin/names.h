// Validation of the names that reach the filesystem from requests, so a request can
// never name a file outside the data directory.
#pragma once

#include <string>
#include <string_view>

namespace shoal::origin {

// Tag grammar (docs/API.md): components of [A-Za-z0-9_][A-Za-z0-9._-]* joined by '/',
// an optional ":tag" of [A-Za-z0-9_][A-Za-z0-9._-]{0,127}, 255 characters at most.
bool valid_tag_name(std::string_view name);
// A tag's file name: the SHA-256 hex of its name, so any valid name (up to 255
// characters, with '/' and ':') maps to one short file name inside the tags directory.
std::string tag_file_name(std::string_view name);
// Upload ids are 32 lowercase hex characters (as the origin makes them).
bool valid_upload_id(std::string_view id);

}  // namespace shoal::origin
