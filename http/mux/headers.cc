#include "http/mux/headers.h"

#include "core/text.h"

namespace shoal::http::mux {
namespace {

// RFC 9113 §4.3.1: the 32 bytes stand for the per-entry cost of the decoder's table,
// so a list of many empty fields counts too.
constexpr uint64_t kFieldOverhead = 32;

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// HTTP/2 field names are lower-case tokens.
bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_tchar(c) || (c >= 'A' && c <= 'Z')) return false;
  }
  return true;
}

bool valid_value(std::string_view value) {
  return value.find_first_of(std::string_view("\0\r\n", 3)) == std::string_view::npos;
}

bool valid_method(std::string_view m) {
  if (m.empty()) return false;
  for (char c : m) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

bool valid_path(std::string_view path, std::string_view method) {
  if (method == "OPTIONS" && path == "*") return true;
  if (path.empty() || path.front() != '/') return false;
  for (char c : path) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Error malformed(std::string what) {
  return Error(Errc::bad_request, "malformed HTTP/2 request: " + what);
}

}  // namespace

bool RequestBuilder::count(std::string_view name, std::string_view value) {
  bytes_ += name.size() + value.size() + kFieldOverhead;
  return !over_limit();
}

bool RequestBuilder::add(std::string_view name, std::string_view value) {
  if (!count(name, value)) return false;
  if (!name.empty() && name.front() == ':') {
    if (!pseudo(name, value)) bad_pseudo_ = true;
  } else if (name == "cookie") {
    // RFC 9113 §8.2.3: clients may split the cookie field; HTTP/1.1 semantics want one.
    if (!cookie_.empty()) cookie_ += "; ";
    cookie_ += value;
  } else {
    fields_.push_back({std::string(name), std::string(value)});
  }
  return true;
}

bool RequestBuilder::pseudo(std::string_view name, std::string_view value) {
  std::string* slot = nullptr;
  if (name == ":method") slot = &method_;
  if (name == ":path") slot = &path_;
  if (name == ":authority") slot = &authority_;
  if (name == ":scheme") slot = &scheme_;
  if (slot == nullptr || !slot->empty() || value.empty()) return false;
  *slot = value;
  return true;
}

Result<Request> RequestBuilder::finish() const {
  if (bad_pseudo_) return malformed("unknown, empty or repeated pseudo-header");
  if (method_.empty()) return malformed("no :method");
  if (!valid_method(method_)) return malformed("invalid :method");
  if (method_ == "CONNECT") return malformed("CONNECT is not supported");
  if (path_.empty()) return malformed("no :path");
  if (!valid_path(path_, method_)) return malformed("invalid :path");
  Request r;
  r.head.method_string(method_);
  r.head.target(path_);
  r.head.version(20);
  for (const auto& f : fields_) {
    if (!valid_name(f.name) || !valid_value(f.value)) return malformed("invalid header field");
    if (connection_specific(f.name)) return malformed("connection-specific header " + f.name);
    if (f.name == "te" && f.value != "trailers") return malformed("te other than trailers");
    if (f.name == "host" && !authority_.empty()) continue;  // :authority wins (RFC 9113 §8.3.1)
    if (f.name == "content-length") {
      r.content_length = text::parse_uint<uint64_t>(f.value);
      if (!r.content_length) return malformed("invalid content-length");
    }
    r.head.insert(f.name, f.value);
  }
  if (!authority_.empty()) r.head.set(bhttp::field::host, authority_);
  if (!cookie_.empty()) r.head.set(bhttp::field::cookie, cookie_);
  return r;
}

bool status_allows_body(unsigned status) { return status >= 200 && status != 204 && status != 304; }

std::vector<Field> response_fields(const Head& head, std::string_view server,
                                   uint64_t content_length) {
  std::vector<Field> out;
  out.push_back({":status", std::to_string(head.result_int())});
  for (const auto& f : head) {
    std::string name = lower(std::string_view(f.name_string().data(), f.name_string().size()));
    if (name.empty() || name.front() == ':' || connection_specific(name)) continue;
    if (name == "server" || name == "content-length") continue;  // ours below
    out.push_back({std::move(name), std::string(f.value().data(), f.value().size())});
  }
  out.push_back({"server", std::string(server)});
  if (status_allows_body(head.result_int())) {
    out.push_back({"content-length", std::to_string(content_length)});
  }
  return out;
}

}  // namespace shoal::http::mux
