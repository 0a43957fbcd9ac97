// Bencoding (BEP 3): the encoding of tracker responses and metainfo files.
// The encoder always writes the canonical form (dict keys sorted, shortest integers),
// and the decoder accepts only that form, within limits, so a hostile input can
// neither exhaust the stack or memory nor have two encodings of one value.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/error.h"

namespace shoal::tracker::bencode {

class Value;
using List = std::vector<Value>;
// std::less<> so lookups take string_views; a std::map keeps keys in the byte order
// BEP 3 requires.
using Dict = std::map<std::string, Value, std::less<>>;

class Value {
 public:
  Value() : v_(int64_t{0}) {}
  // Any integer type; counts above INT64_MAX do not occur in tracker responses.
  template <class I>
    requires std::is_integral_v<I> && (!std::is_same_v<I, bool>)
  Value(I i) : v_(static_cast<int64_t>(i)) {}  // NOLINT(google-explicit-constructor)
  Value(std::string s) : v_(std::move(s)) {}       // NOLINT(google-explicit-constructor)
  Value(std::string_view s) : v_(std::string(s)) {}  // NOLINT(google-explicit-constructor)
  Value(const char* s) : v_(std::string(s)) {}     // NOLINT(google-explicit-constructor)
  Value(List l) : v_(std::move(l)) {}              // NOLINT(google-explicit-constructor)
  Value(Dict d) : v_(std::move(d)) {}              // NOLINT(google-explicit-constructor)

  bool is_int() const { return v_.index() == 0; }
  bool is_string() const { return v_.index() == 1; }
  bool is_list() const { return v_.index() == 2; }
  bool is_dict() const { return v_.index() == 3; }
  int64_t as_int() const { return std::get<0>(v_); }
  const std::string& as_string() const { return std::get<1>(v_); }
  const List& as_list() const { return std::get<2>(v_); }
  List& as_list() { return std::get<2>(v_); }
  const Dict& as_dict() const { return std::get<3>(v_); }
  Dict& as_dict() { return std::get<3>(v_); }
  // The dict entry `key`, or nullptr when absent or this is not a dict.
  const Value* find(std::string_view key) const;

  friend bool operator==(const Value&, const Value&) = default;

 private:
  std::variant<int64_t, std::string, List, Dict> v_;
};

// Canonical encoding of `v`.
std::string encode(const Value& v);
void encode_to(const Value& v, std::string& out);

struct DecodeLimits {
  size_t max_size = 16u << 20;  // whole input, bytes
  unsigned max_depth = 32;      // nesting of lists and dicts
};

// Decodes exactly one value spanning all of `in`. Errors are Errc::bad_request with
// a sentence naming the problem and its byte offset. Rejected: leading zeros (i03e,
// 03:abc), negative zero, integers outside int64, unsorted or duplicate dict keys,
// non-string keys, trailing bytes, nesting deeper than max_depth.
Result<Value> decode(std::string_view in, const DecodeLimits& limits = {});

}  // namespace shoal::tracker::bencode
