// The identity of content: "sha256:<64 lowercase hex>". A Digest can only hold a
// well-formed value, so code that receives one never re-validates it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace shoal {

class Digest {
 public:
  static constexpr std::string_view kPrefix = "sha256:";
  static constexpr size_t kBytes = 32;
  using Bytes = std::array<uint8_t, kBytes>;

  // Accepts exactly "sha256:" followed by 64 lowercase hex characters.
  static Result<Digest> parse(std::string_view text);
  static Digest from_bytes(const Bytes& raw) { return Digest(raw); }

  const Bytes& bytes() const { return raw_; }
  std::string hex() const;        // 64 lowercase hex characters
  std::string str() const;        // "sha256:<hex>"

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest&, const Digest&) = default;

 private:
  explicit Digest(const Bytes& raw) : raw_(raw) {}
  Bytes raw_{};
};

std::string to_hex(const uint8_t* data, size_t len);

}  // namespace shoal

template <>
struct std::hash<shoal::Digest> {
  size_t operator()(const shoal::Digest& d) const noexcept {
    size_t h;
    static_assert(sizeof(h) <= shoal::Digest::kBytes);
    __builtin_memcpy(&h, d.bytes().data(), sizeof(h));  // already uniformly distributed
    return h;
  }
};
