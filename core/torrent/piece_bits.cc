#include "core/torrent/piece_bits.h"

#include "core/digest.h"
#include "core/text.h"

namespace shoal {

std::string piece_bits_hex(const std::vector<bool>& bits) {
  std::vector<uint8_t> bytes((bits.size() + 7) / 8);
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) bytes[i / 8] |= static_cast<uint8_t>(0x80u >> (i % 8));
  }
  return to_hex(bytes.data(), bytes.size());
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
    const int hi = text::hex_digit(hex[2 * byte]), lo = text::hex_digit(hex[2 * byte + 1]);
    if (hi < 0 || lo < 0) return Error(Errc::bad_request, "not a hex digit in the bit string");
    const unsigned v = static_cast<unsigned>(hi << 4 | lo);
    for (size_t b = 0; b < 8; ++b) {
      const size_t i = byte * 8 + b;
      const bool set = (v & (0x80u >> b)) != 0;
      if (i < pieces) {
        bits[i] = set;
      } else if (set) {
        return Error(Errc::bad_request, "a bit is set past the last piece");
      }
    }
  }
  return bits;
}

}  // namespace shoal
