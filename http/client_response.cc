// The parts of the HTTP client that need no socket: header lookup and turning a
// Shoal error document into one readable line.
#include <cctype>
#include <charconv>
#include <string>

#include "core/text.h"
#include "http/client.h"

namespace shoal::http {
namespace {

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

// Decodes a JSON string starting after its opening quote; \uXXXX outside ASCII
// becomes '?', which is enough for an error line.
std::string json_string_at(std::string_view s, size_t i) {
  std::string out;
  for (; i < s.size() && s[i] != '"'; ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    char e = s[++i];
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
      case 'f':
        out += ' ';
        break;
      case 'u': {
        unsigned v = 0;
        if (i + 4 < s.size()) std::from_chars(s.data() + i + 1, s.data() + i + 5, v, 16);
        out += v < 0x80 && v >= 0x20 ? static_cast<char>(v) : '?';
        i += 4;
        break;
      }
      default:
        out += e;
    }
  }
  return out;
}

}  // namespace

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (text::iequals(k, name)) return v;
  }
  return {};
}

Result<Response> get_capped(const Url& base, std::string_view path, size_t limit,
                            const ClientOptions& options) {
  Client client(base, options);
  std::string body;
  const BodySink sink = [&](const char* p, size_t n) -> Result<void> {
    if (body.size() + n > limit)
      return Error(Errc::too_large, "answer is over " + std::to_string(limit) + " bytes");
    body.append(p, n);
    return {};
  };
  auto res = client.download(path, {}, sink);
  if (res && res->success()) res->body = std::move(body);
  return res;
}

Result<std::string> get_small(const Url& base, std::string_view path, size_t limit,
                              const ClientOptions& options) {
  auto res = get_capped(base, path, limit, options);
  if (!res) return res.error();
  if (!res->success()) {
    return Error(errc_for_status(res->status),
                 base.str() + std::string(path) + ": " + describe_failure(*res));
  }
  return std::move(res->body);
}

std::string json_string_field(std::string_view body, std::string_view field) {
  std::string key = "\"" + std::string(field) + "\"";
  for (size_t pos = body.find(key); pos != std::string_view::npos; pos = body.find(key, pos + 1)) {
    size_t i = skip_space(body, pos + key.size());
    if (i >= body.size() || body[i] != ':') continue;  // a value that happens to equal the key
    i = skip_space(body, i + 1);
    if (i < body.size() && body[i] == '"') return json_string_at(body, i + 1);
  }
  return {};
}

Errc errc_for_status(unsigned status) {
  switch (status) {
    case 401:
      return Errc::unauthorized;
    case 403:
      return Errc::forbidden;
    case 404:
      return Errc::not_found;
    case 413:
      return Errc::too_large;
    case 416:
      return Errc::range_not_satisfiable;
    case 507:
      return Errc::disk_full;
    default:
      return status >= 500 ? Errc::unavailable : Errc::bad_request;
  }
}

std::string describe_failure(const Response& response) {
  std::string status = std::to_string(response.status);
  std::string message = json_string_field(response.body, "message");
  std::string code = json_string_field(response.body, "error");
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';  // the CLI promises one line
  }
  if (message.empty()) return "HTTP status " + status;
  return message + " (" + status + (code.empty() ? "" : " " + code) + ")";
}

}  // namespace shoal::http
