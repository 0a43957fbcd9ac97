#include "core/digest.h"

namespace shoal {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is rejected on purpose: one spelling per digest
}

}  // namespace

Result<Digest> Digest::parse(std::string_view text) {
  if (!text.starts_with(kPrefix)) {
    return Error(Errc::malformed_digest, "digest must start with \"sha256:\"");
  }
  std::string_view hex = text.substr(kPrefix.size());
  if (hex.size() != 2 * kBytes) {
    return Error(Errc::malformed_digest, "digest must have 64 hex characters after \"sha256:\"");
  }
  Bytes raw{};
  for (size_t i = 0; i < kBytes; ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Error(Errc::malformed_digest, "digest must be lowercase hex (0-9, a-f)");
    }
    raw[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return Digest(raw);
}

std::string to_hex(const uint8_t* data, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * len, '\0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}

std::string Digest::hex() const { return to_hex(raw_.data(), raw_.size()); }
std::string Digest::str() const { return std::string(kPrefix) + hex(); }

}  // namespace shoal
