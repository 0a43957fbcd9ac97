// Streaming SHA-256 through OpenSSL's EVP interface (uses SHA-NI where the CPU has it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/digest.h"

struct evp_md_ctx_st;

namespace shoal {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t len);
  void update(std::span<const std::byte> bytes) { update(bytes.data(), bytes.size()); }
  // Returns the digest and resets the state for reuse.
  Digest finish();

  // One-shot helpers.
  static Digest of(const void* data, size_t len);
  // Hashes a whole file by descriptor from its current offset with a large buffer.
  static Result<Digest> of_fd(int fd);

 public:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const;
  };

 private:
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

// SHA-1, only for BitTorrent v1 piece hashes (hybrid metainfo), never for naming data.
class Sha1 {
 public:
  using Hash = std::array<uint8_t, 20>;
  Sha1();
  ~Sha1();
  Sha1(Sha1&&) noexcept;
  Sha1& operator=(Sha1&&) noexcept;
  Sha1(const Sha1&) = delete;
  Sha1& operator=(const Sha1&) = delete;

  void update(const void* data, size_t len);
  Hash finish();  // and reset

 private:
  std::unique_ptr<evp_md_ctx_st, Sha256::Free> ctx_;
};

}  // namespace shoal
