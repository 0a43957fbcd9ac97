// Between HTTP/2 header lists and Beast's message heads, so handlers see the same
// types whatever the protocol: the request head built from pseudo-headers and fields
// as they arrive, and a response head turned into the fields HTTP/2 allows. Nothing
// here depends on nghttp2, so the HTTP/3 front end can share it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "http/server.h"

namespace shoal::http::mux {

struct Field {
  std::string name;
  std::string value;
};

struct Request {
  RequestHead head;
  std::optional<uint64_t> content_length;
};

class RequestBuilder {
 public:
  explicit RequestBuilder(uint32_t max_bytes) : max_(max_bytes) {}

  // Counts the field against the limit (RFC 9113 §6.5.2: name + value + 32 bytes) and
  // keeps it while under. False once over: from then on nothing is stored, so a
  // header bomb costs decoding time but no memory.
  bool add(std::string_view name, std::string_view value);
  // Trailers count against the same limit but are not kept.
  bool count(std::string_view name, std::string_view value);
  bool over_limit() const { return bytes_ > max_; }
  uint64_t bytes() const { return bytes_; }
  uint32_t limit() const { return max_; }

  // The head a handler sees, or why the request is malformed (a 400 for the client).
  Result<Request> finish() const;

 private:
  bool pseudo(std::string_view name, std::string_view value);

  uint32_t max_;
  uint64_t bytes_ = 0;
  bool bad_pseudo_ = false;
  std::string method_, path_, authority_, scheme_, cookie_;
  std::vector<Field> fields_;
};

// Fields of a response HEADERS frame: `:status` first, then the head's fields in
// lower case without connection-specific ones (RFC 9113 §8.2.2), then `server` and
// `content-length` (not on 1xx, 204 and 304, as on HTTP/1.1).
std::vector<Field> response_fields(const Head& head, std::string_view server,
                                   uint64_t content_length);

// Whether a response with this status may carry a body.
bool status_allows_body(unsigned status);

}  // namespace shoal::http::mux
