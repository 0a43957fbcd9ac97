#include "cli/get_target.h"

namespace shoal::cli::get {

Result<Target> split_url(std::string_view text) {
  size_t sep = text.find("://");
  size_t cut = sep == std::string_view::npos ? text.size() : text.find_first_of("/?#", sep + 3);
  std::string path(cut == std::string_view::npos ? "" : text.substr(cut));
  path = path.substr(0, path.find('#'));
  if (!path.starts_with('/')) path = "/" + path;
  auto base = Url::parse(text.substr(0, cut));
  if (!base) return base.error();
  return Target{*base, path};
}

std::optional<Digest> digest_in_path(std::string_view path) {
  path = path.substr(0, path.find('?'));
  std::string_view last = path.substr(path.rfind('/') + 1);
  if (!last.starts_with(Digest::kPrefix)) return std::nullopt;
  auto d = Digest::parse(last);
  if (!d) return std::nullopt;
  return *d;
}

}  // namespace shoal::cli::get
