#include "core/piece_bits.h"

namespace shoal {
namespace {

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string piece_bits_hex(const std::vector<bool>& bits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve((bits.size() + 7) / 8 * 2);
  for (size_t byte = 0; byte * 8 < bits.size(); ++byte) {
    unsigned v = 0;
    for (size_t b = 0; b < 8; ++b) {
      const size_t i = byte * 8 + b;
      if (i < bits.size() && bits[i]) v |= 0x80u >> b;
    }
    out += kDigits[v >> 4];
    out += kDigits[v & 15];
  }
  return out;
}

Result<std::vector<bool>> parse_piece_bits(std::string_view hex, uint32_t pieces) {
  const size_t bytes = (size_t{pieces} + 7) / 8;
  if (hex.size() != bytes * 2) {
    return Error(Errc::bad_request, "expected " + std::to_string(bytes * 2) + " hex digits for " +
                                        std::to_string(pieces) + " pieces, got " +
                                        std::to_string(hex.size()));
  }
  std::vector<bool> bits(pieces);
  for (size_t byte = 0; byte < bytes; ++byte) {
    const int hi = nibble(hex[2 * byte]), lo = nibble(hex[2 * byte + 1]);
    if (hi < 0 || lo < 0) return Error(Errc::bad_request, "not a hex digit in the bit string");
    const unsigned v = static_cast<unsigned>(hi << 4 | lo);
    for (size_t b = 0; b < 8; ++b) {
      const size_t i = byte * 8 + b;
      const bool set = (v & (0x80u >> b)) != 0;
      if (i >= pieces) {
        if (set) return Error(Errc::bad_request, "a bit is set past the last piece");
      } else {
        bits[i] = set;
      }
    }
  }
  return bits;
}

}  // namespace shoal
