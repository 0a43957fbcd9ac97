#include "storage/www_authenticate.h"

#include <algorithm>
#include <cctype>

namespace shoal::storage {
namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A cursor over the header with the few moves the grammar needs.
struct Reader {
  std::string_view s;
  size_t i = 0;

  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
  void skip_space() {
    while (!done() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  void skip_separators() {
    while (!done() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
  }
  std::string_view token() {
    size_t start = i;
    while (!done() && is_token_char(s[i])) ++i;
    return s.substr(start, i - start);
  }
  // After the opening quote; false when the closing one is missing.
  bool quoted(std::string& out) {
    for (++i; !done(); ++i) {
      if (s[i] == '"') {
        ++i;
        return true;
      }
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i];
    }
    return false;
  }
};

Error malformed(std::string_view header, std::string_view why) {
  return Error(Errc::protocol_error,
               "malformed WWW-Authenticate header (" + std::string(why) + "): " + std::string(header));
}

}  // namespace

std::string AuthChallenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

Result<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view header) {
  std::vector<AuthChallenge> out;
  Reader r{header};
  r.skip_separators();
  while (!r.done()) {
    std::string_view word = r.token();
    if (word.empty()) return malformed(header, "unexpected character");
    r.skip_space();
    if (r.peek() != '=') {  // a scheme starts a new challenge
      out.push_back({lower(word), {}});
      r.skip_separators();
      continue;
    }
    if (out.empty()) return malformed(header, "parameter before any scheme");
    ++r.i;
    r.skip_space();
    std::string value;
    if (r.peek() == '"') {
      if (!r.quoted(value)) return malformed(header, "unterminated quoted string");
    } else {
      value = std::string(r.token());
      // token68 (Basic's base64 credentials blob) may end in '=' padding.
      while (r.peek() == '=') value += header[r.i++];
    }
    out.back().params[lower(word)] = std::move(value);
    r.skip_space();
    if (!r.done() && r.peek() != ',') return malformed(header, "missing comma");
    r.skip_separators();
  }
  if (out.empty()) return malformed(header, "no challenge");
  return out;
}

const AuthChallenge* find_challenge(const std::vector<AuthChallenge>& all, std::string_view scheme) {
  for (const auto& c : all) {
    if (c.scheme == scheme) return &c;
  }
  return nullptr;
}

}  // namespace shoal::storage
