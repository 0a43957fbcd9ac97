#include "origin/names.h"

#include "core/sha256.h"

namespace shoal::origin {
namespace {

bool is_alnum_or_underscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_word_char(char c) { return is_alnum_or_underscore(c) || c == '.' || c == '-'; }

bool valid_word(std::string_view w, size_t max_len) {
  if (w.empty() || w.size() > max_len || !is_alnum_or_underscore(w.front())) return false;
  for (char c : w) {
    if (!is_word_char(c)) return false;
  }
  return true;
}

}  // namespace

bool valid_tag_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  size_t colon = name.rfind(':');
  if (colon != std::string_view::npos) {
    if (!valid_word(name.substr(colon + 1), 128)) return false;
    name = name.substr(0, colon);
  }
  while (true) {
    size_t slash = name.find('/');
    if (!valid_word(name.substr(0, slash), 255)) return false;
    if (slash == std::string_view::npos) return true;
    name = name.substr(slash + 1);
  }
}

std::string tag_file_name(std::string_view name) {
  return Sha256::of(name.data(), name.size()).hex();
}

bool valid_upload_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace shoal::origin
