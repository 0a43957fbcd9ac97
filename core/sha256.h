// Streaming SHA-256 through OpenSSL's EVP interface (uses SHA-NI where the CPU has it).
#pragma once

#include <cstddef>
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

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

}  // namespace shoal
