#include "tracker/bencode.h"

#include <type_traits>

#include "core/text.h"

// g++ 12 reports a false maybe-uninitialized when a recursive std::variant (Value)
// is moved into Result's variant after inlining (GCC bug 105593 family); the
// sanitizer build turns the warning off globally for the same reason.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace shoal::tracker::bencode {
namespace {

Error fail(size_t offset, const std::string& what) {
  return Error(Errc::bad_request, "bencode: " + what + " at byte " + std::to_string(offset));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Decoder {
 public:
  Decoder(std::string_view in, const DecodeLimits& limits) : in_(in), limits_(limits) {}

  Result<Value> value(unsigned depth) {
    if (pos_ >= in_.size()) return fail(pos_, "unexpected end of input");
    char c = in_[pos_];
    if (c == 'i') return integer();
    if (is_digit(c)) {
      auto s = string();
      if (!s) return s.error();
      return Value(std::move(*s));
    }
    if (c == 'l' || c == 'd') {
      // Depth is checked before descending so hostile nesting never grows the stack.
      if (depth >= limits_.max_depth) return fail(pos_, "nesting deeper than " +
                                                            std::to_string(limits_.max_depth));
      return c == 'l' ? list(depth + 1) : dict(depth + 1);
    }
    return fail(pos_, std::string("unexpected byte 0x") + hex(c));
  }

  bool at_end() const { return pos_ == in_.size(); }
  size_t pos() const { return pos_; }

 private:
  static std::string hex(char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    auto u = static_cast<unsigned char>(c);
    return {kHex[u >> 4], kHex[u & 15]};
  }

  // Digits of an integer or length from pos_: canonical (no leading zero unless the
  // number is 0, no "-0"), within the type's range.
  template <class T>
  Result<T> number(char terminator, bool allow_negative) {
    size_t start = pos_;
    size_t end = in_.find(terminator, pos_);
    if (end == std::string_view::npos) return fail(start, "unterminated number");
    std::string_view text = in_.substr(pos_, end - pos_);
    std::string_view digits = text;
    if (allow_negative && !digits.empty() && digits[0] == '-') digits.remove_prefix(1);
    if (digits.empty()) return fail(start, "empty number");
    for (char d : digits) {
      if (!is_digit(d)) return fail(start, "non-digit in number");
    }
    if (digits.size() > 1 && digits[0] == '0') return fail(start, "number with a leading zero");
    if (digits != text && digits == "0") return fail(start, "negative zero");
    // The grammar is checked above; what is left to refuse is a value out of T's range.
    std::optional<T> v;
    if constexpr (std::is_signed_v<T>) {
      v = text::parse_int<T>(text);
    } else {
      v = text::parse_uint<T>(text);
    }
    if (!v) return fail(start, "number out of range");
    pos_ = end + 1;
    return *v;
  }

  Result<Value> integer() {
    ++pos_;  // 'i'
    auto n = number<int64_t>('e', true);
    if (!n) return n.error();
    return Value(*n);
  }

  Result<std::string> string() {
    size_t start = pos_;
    auto len = number<uint64_t>(':', false);
    if (!len) return len.error();
    if (*len > in_.size() - pos_) return fail(start, "string longer than the input");
    std::string s(in_.substr(pos_, *len));
    pos_ += *len;
    return s;
  }

  Result<Value> list(unsigned depth) {
    ++pos_;  // 'l'
    List items;
    for (;;) {
      if (pos_ >= in_.size()) return fail(pos_, "unterminated list");
      if (in_[pos_] == 'e') break;
      auto item = value(depth);
      if (!item) return item.error();
      items.push_back(std::move(*item));
    }
    ++pos_;
    return Value(std::move(items));
  }

  Result<Value> dict(unsigned depth) {
    ++pos_;  // 'd'
    Dict entries;
    const std::string* last = nullptr;
    for (;;) {
      if (pos_ >= in_.size()) return fail(pos_, "unterminated dict");
      if (in_[pos_] == 'e') break;
      size_t key_at = pos_;
      if (!is_digit(in_[pos_])) return fail(pos_, "dict key is not a string");
      auto key = string();
      if (!key) return key.error();
      // Strictly ascending raw-byte order: unsorted or repeated keys would give one
      // value two encodings (and two info-hashes).
      if (last != nullptr && !(*last < *key))
        return fail(key_at, "dict keys not sorted or repeated");
      auto v = value(depth);
      if (!v) return v.error();
      auto it = entries.emplace_hint(entries.end(), std::move(*key), std::move(*v));
      last = &it->first;
    }
    ++pos_;
    return Value(std::move(entries));
  }

  std::string_view in_;
  const DecodeLimits& limits_;
  size_t pos_ = 0;
};

}  // namespace

const Value* Value::find(std::string_view key) const {
  if (!is_dict()) return nullptr;
  const Dict& d = as_dict();
  auto it = d.find(key);
  return it == d.end() ? nullptr : &it->second;
}

void encode_to(const Value& v, std::string& out) {
  if (v.is_int()) {
    out += 'i';
    out += std::to_string(v.as_int());
    out += 'e';
  } else if (v.is_string()) {
    out += std::to_string(v.as_string().size());
    out += ':';
    out += v.as_string();
  } else if (v.is_list()) {
    out += 'l';
    for (const Value& item : v.as_list()) encode_to(item, out);
    out += 'e';
  } else {
    out += 'd';
    for (const auto& [key, item] : v.as_dict()) {
      out += std::to_string(key.size());
      out += ':';
      out += key;
      encode_to(item, out);
    }
    out += 'e';
  }
}

std::string encode(const Value& v) {
  std::string out;
  encode_to(v, out);
  return out;
}

Result<Value> decode(std::string_view in, const DecodeLimits& limits) {
  if (in.size() > limits.max_size) {
    return Error(Errc::too_large, "bencode: input of " + std::to_string(in.size()) +
                                      " bytes is over the limit of " +
                                      std::to_string(limits.max_size));
  }
  Decoder d(in, limits);
  auto v = d.value(0);
  if (!v) return v.error();
  if (!d.at_end()) return fail(d.pos(), "trailing data");
  return v;
}

}  // namespace shoal::tracker::bencode
